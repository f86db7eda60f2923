#!/usr/bin/env node
'use strict';
// Bundles the analysis thread's code (tsc's output in dist/) into one file beside it,
// dist/src/analysis/analysis-worker.bundle.js, which the relay thread starts when it
// exists (src/proxy/analysis-thread.ts). Why: a worker resolves, reads and compiles every
// module it loads (pino's dozen among them) while the editor waits for the session to
// start; one file saved about 28 ms of CPU per start (104.8 -> 80.1 ms median to load the
// analysis host on a worker, 8 starts each). ffi-rs stays outside: a native module. The
// file sits at the same depth as the modules it replaces, so their __dirname paths hold.
// Without esbuild (a production install) it says so, and the unbundled worker runs.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist', 'src', 'analysis', 'analysis-worker.js');
const out = path.join(root, 'dist', 'src', 'analysis', 'analysis-worker.bundle.js');

let esbuild;
try { esbuild = require('esbuild'); } catch {
  fs.rmSync(out, { force: true });
  process.stderr.write('bundle-worker: esbuild not installed; the analysis thread runs unbundled\n');
  process.exit(0);
}
esbuild.buildSync({
  entryPoints: [entry], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
  external: ['ffi-rs'], logLevel: 'warning', legalComments: 'none',
});
