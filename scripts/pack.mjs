#!/usr/bin/env node
// Packs the installable tarballs: @switchboard/uplink and @switchboard/server, each carrying its
// own copy of @switchboard/shared (npm's bundleDependencies), so either installs alone.
//
//   npm run pack [-- --out DIR]        (default DIR: ./packages)
//
// npm does not bundle a workspace package from the workspace itself, so each package is packed,
// unpacked into a staging folder with the packed shared package under node_modules/, and packed
// again there. The `switchboard-source` export condition (this repository's sources, see
// docs/packaging.md) is removed from what is published: those files are not in the tarballs.
// Prints one JSON line per tarball: { name, file, bytes }.
/* global console, process */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_CONDITION = 'switchboard-source';
const PUBLISHED = ['uplink-client', 'server'];

const outIndex = process.argv.indexOf('--out');
const out = path.resolve(
  outIndex === -1 ? path.join(ROOT, 'packages') : process.argv[outIndex + 1],
);

/** Runs npm (no shell) and returns its stdout. */
function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** `npm pack` in `cwd` (optionally one workspace) into `dest`; returns the tarball's path. */
function pack(cwd, dest, workspace) {
  const args = ['pack', '--json', '--pack-destination', dest];
  if (workspace !== undefined) args.push('-w', workspace);
  const [result] = JSON.parse(npm(args, cwd));
  return path.join(dest, result.filename);
}

function untar(file, dir) {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', file, '-C', dir, '--strip-components=1']);
}

/**
 * Rewrites the package.json in `dir` for publishing: drops the source condition from every
 * export, and adds `extraDependencies` (npm installs nothing for a bundled package's own
 * dependencies, so the package carrying shared declares them).
 */
function publishedManifest(dir, extraDependencies = {}) {
  const file = path.join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  for (const target of Object.values(pkg.exports ?? {})) {
    if (typeof target === 'object' && target !== null) delete target[SOURCE_CONDITION];
  }
  const dependencies = { ...pkg.dependencies, ...extraDependencies };
  pkg.dependencies = Object.fromEntries(
    Object.keys(dependencies)
      .sort()
      .map((name) => [name, dependencies[name]]),
  );
  writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
  return pkg;
}

npm(['run', 'build', '--silent'], ROOT);
mkdirSync(out, { recursive: true });
const staging = mkdtempSync(path.join(tmpdir(), 'switchboard-pack-'));
try {
  const shared = pack(ROOT, staging, 'shared');
  for (const workspace of PUBLISHED) {
    const dir = path.join(staging, workspace);
    untar(pack(ROOT, staging, workspace), dir);
    const bundled = path.join(dir, 'node_modules', '@switchboard', 'shared');
    untar(shared, bundled);
    const sharedManifest = publishedManifest(bundled);
    const { name } = publishedManifest(dir, sharedManifest.dependencies);
    const file = pack(dir, out);
    console.log(JSON.stringify({ name, file, bytes: statSync(file).size }));
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}
