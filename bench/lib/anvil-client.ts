// The real Python `anvil-uplink` client (anvil-works/anvil-runtime, not part of this repository)
// as an uplink of the bench: found through ANVIL_UPLINK_PYTHONPATH (its `uplink/python` folder,
// default /tmp/anvil-client/uplink/python) and ANVIL_UPLINK_PYTHON (default /usr/bin/python3,
// which needs python3-ws4py), serving the bench's `hello` handler as an `http_endpoint`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess, type Proc } from './processes.ts';

const DEFAULT_PYTHONPATH = '/tmp/anvil-client/uplink/python';

// What the client runs: the bench's `hello` handler (bench/lib/handlers.ts), so that both kinds
// of uplink answer `{"hello": name}` as JSON. Its log goes to stdout, line by line, so that the
// bench can count (re)connections ("Anvil websocket open").
const UPLINK_SCRIPT = `import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
import anvil.server

@anvil.server.http_endpoint("/hello/:name", methods=["GET"])
def hello(name, **kw):
    return {"hello": name}

anvil.server.connect(sys.argv[1], url=sys.argv[2])
print("ready", flush=True)
anvil.server.wait_forever()
`;

export interface AnvilClient {
  python: string;
  pythonPath: string;
  /** "Python 3.11.2 + ws4py 0.5.1" */
  version: string;
}

/** The Anvil client and an interpreter that can run it, or why not (a sentence). */
export function findAnvilClient(): AnvilClient | string {
  const pythonPath =
    process.env.ANVIL_UPLINK_PYTHONPATH ??
    (existsSync(DEFAULT_PYTHONPATH) ? DEFAULT_PYTHONPATH : '');
  if (pythonPath === '')
    return `no Anvil uplink client: set ANVIL_UPLINK_PYTHONPATH to the uplink/python folder of anvil-works/anvil-runtime (default ${DEFAULT_PYTHONPATH})`;
  if (!existsSync(path.join(pythonPath, 'anvil', 'server.py')))
    return `ANVIL_UPLINK_PYTHONPATH=${pythonPath} has no anvil/server.py (it should be the uplink/python folder of anvil-works/anvil-runtime)`;
  const python =
    process.env.ANVIL_UPLINK_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : '');
  if (python === '') return 'no Python: set ANVIL_UPLINK_PYTHON (or install /usr/bin/python3)';
  try {
    const version = execFileSync(
      python,
      [
        '-c',
        'import sys, ws4py, anvil.server; print("Python %s + ws4py %s" % (sys.version.split()[0], ws4py.__version__))',
      ],
      { env: { ...process.env, PYTHONPATH: pythonPath }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
      .toString()
      .trim();
    return { python, pythonPath, version };
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? error);
    return /No module named 'ws4py'/.test(stderr)
      ? `${python} has no ws4py (Debian: apt-get install python3-ws4py)`
      : `${python} cannot import the Anvil client from ${pythonPath}: ${stderr.trim().split('\n').pop()}`;
  }
}

/**
 * Starts the client as an uplink of the Switchboard server at `serverUrl` (http://…) and waits
 * until it is connected. Its script lives in a temporary folder, removed when it exits.
 */
export async function startAnvilUplink(
  client: AnvilClient,
  serverUrl: string,
  key: string,
  name = 'uplink',
): Promise<Proc> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-anvil-'));
  const script = path.join(dir, 'anvil_uplink.py');
  writeFileSync(script, UPLINK_SCRIPT);
  const proc = startProcess(
    name,
    client.python,
    [script, key, `${serverUrl.replace(/^http/, 'ws')}/_/uplink`],
    { env: { PYTHONPATH: client.pythonPath, PYTHONUNBUFFERED: '1' }, cwd: dir },
  );
  proc.child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  await proc.line(/^ready$/);
  return proc;
}
