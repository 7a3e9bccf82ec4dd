#!/usr/bin/env node
// The switchboard CLI, run from the compiled build (`npm run build` at the repository root).
await import('../dist/cli/main.js');
