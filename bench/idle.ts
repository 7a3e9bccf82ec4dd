// npm run bench:idle [-- --count 50000 --clients 8 --settle 30]
// Idle uplinks on one server: real uplink clients in several processes, half of them on
// 127.0.0.1 and half on ::1 when there are more than one address takes (~28,000 ephemeral ports
// towards one server port), with the descriptor limit raised for the server and the clients
// (prlimit; needs root above the hard limit). Prints the server's RSS per connection one second
// after the last opened and again after `--settle` seconds left alone.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { measureIdle } from './lib/idle.ts';
import { KEY, runMain, saveResults } from './lib/processes.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '50000' },
    clients: { type: 'string', default: '8' },
    settle: { type: 'string', default: '30' },
  },
});
const asked = Number(values.count);
const PORTS_PER_ADDRESS = 25_000;
/** Descriptors the server needs beside its connections (files, the database, NATS…). */
const MARGIN = 1_000;

/** The descriptor hard limit of processes started from here. */
function hardLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/** Whether prlimit may raise the limit to `nofile` here (root with CAP_SYS_RESOURCE). */
function canRaise(nofile: number): boolean {
  return spawnSync('prlimit', [`--nofile=${nofile}:${nofile}`, '--', 'true']).status === 0;
}

async function main(): Promise<void> {
  const wanted = asked + MARGIN;
  const hard = hardLimit();
  let count = asked;
  let limited = '';
  if (wanted > hard && !canRaise(wanted)) {
    count = hard - MARGIN;
    limited = `the descriptor hard limit here is ${hard} and raising it was refused (needs CAP_SYS_RESOURCE): ${count.toLocaleString('en')} instead of ${asked.toLocaleString('en')}`;
    console.error(limited);
  }
  const result = await measureIdle({
    count,
    key: KEY,
    clients: Number(values.clients),
    hosts: count > PORTS_PER_ADDRESS ? ['127.0.0.1', '::1'] : ['127.0.0.1'],
    ...(count + MARGIN > hard ? { nofile: count + MARGIN } : {}),
    settleS: Number(values.settle),
  });
  const goal = 8;
  const held =
    result.connections >= asked
      ? `${result.connections.toLocaleString('en')} idle uplinks on one server — met (all opened and held)`
      : `${asked.toLocaleString('en')} idle uplinks on one server — not measured: ${limited}; ${result.connections.toLocaleString('en')} opened and held`;
  const lines = [
    `| connections | opened in | server RSS before | 1 s after | KiB per connection | ${result.settledAfterS} s after | KiB per connection |`,
    '|---|---|---|---|---|---|---|',
    `| ${result.connections} | ${result.openS.toFixed(1)} s | ${result.rssBeforeMiB.toFixed(1)} MiB | ${result.rssAfterMiB.toFixed(1)} MiB | ${result.kibPerConnection.toFixed(2)} | ${result.rssSettledMiB.toFixed(1)} MiB | ${result.kibPerConnectionSettled.toFixed(2)} |`,
    '',
    `target: ${held}`,
    `target: server RSS per idle uplink ≤ ${goal} KiB at 10,000 or more — ${result.kibPerConnectionSettled.toFixed(1)} KiB settled (${result.kibPerConnection.toFixed(1)} at 1 s): ${result.connections < 10_000 ? "not judged below 10,000 (the server's own growth weighs on few)" : result.kibPerConnectionSettled <= goal ? 'met' : 'not met'}`,
  ];
  console.log(lines.join('\n'));
  saveResults('idle', { asked, limited, ...result });
}

runMain(main);
