#!/usr/bin/env node
'use strict';
// Bundles tsc's output in dist/ into one file per thread, which bin/lsptap and the relay
// thread load when they exist (else the unbundled modules run):
// - dist/src/bundle/lsptap.js: the main thread's own code (entry, cli, proxy, dropin...),
//   packages left outside. Resolving, reading and compiling ~30 small modules cost the
//   start of every session (and of every `gopls version` through the shim) tens of ms.
// - dist/src/bundle/subcommands.js: report, diff, replay, demo, top and profile
//   (src/subcommands.ts), which cli.ts requires on use; the main bundle leaves them out
//   (389 -> 159 KB; compiling it at every session's start cost 22 -> 14 ms of CPU, median of
//   15 `require`s), and a subcommand loads both.
// - dist/src/analysis/analysis-worker.bundle.js: the analysis thread with its packages
//   (pino's dozen modules among them); loading the analysis host on a worker went from
//   104.8 to 80.1 ms of CPU (median of 8). ffi-rs stays outside: a native module; so does
//   prom-client, loaded only with --metrics: with its @opentelemetry/api it was 150 of the
//   bundle's 514 KB, compiled at every start.
// Both sit at the depth of the modules they replace (dist/src/<folder>/), so the paths the
// code builds from __dirname (package.json, bin/lsptap, bpf/.output) hold.
// Without esbuild (a production install) this says so, and the unbundled code runs.
const fs = require('fs');
const path = require('path');

const dist = path.resolve(__dirname, '..', 'dist', 'src');
const outputs = {
  main: { entry: path.join(dist, 'entry.js'), out: path.join(dist, 'bundle', 'lsptap.js'), packages: 'external', external: ['./subcommands'] },
  subcommands: { entry: path.join(dist, 'subcommands.js'), out: path.join(dist, 'bundle', 'subcommands.js'), packages: 'external', external: [] },
  worker: { entry: path.join(dist, 'analysis', 'analysis-worker.js'), out: path.join(dist, 'analysis', 'analysis-worker.bundle.js'), packages: undefined, external: [] },
};

let esbuild;
try { esbuild = require('esbuild'); } catch {
  for (const o of Object.values(outputs)) fs.rmSync(o.out, { force: true });
  process.stderr.write('bundle: esbuild not installed; lsptap runs unbundled\n');
  process.exit(0);
}
for (const o of Object.values(outputs)) {
  esbuild.buildSync({
    entryPoints: [o.entry], outfile: o.out, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    external: ['ffi-rs', 'prom-client', ...o.external], packages: o.packages, logLevel: 'warning', legalComments: 'none',
  });
}
