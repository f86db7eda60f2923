// Creating the analysis thread's Worker, with nothing else loaded: bin/lsptap requires this
// file (and dropin/command-line.js) before the main bundle, so the thread's start (a V8
// isolate, then its own bundle, ~50 ms here) runs on the second core while the main thread
// loads and compiles the rest of lsptap. analysis-thread.ts configures the thread later.

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** A started thread waiting for its configuration; error: what it said before anyone listened. */
export interface StartedThread { worker: Worker; error: Error | null }

/** The worker's entry: the one-file bundle when the build made it (scripts/bundle.js), else tsc's output. */
function workerEntry(): string {
  // This file runs from dist/src/proxy/worker/ (two levels below dist/src) or inside
  // dist/src/bundle/lsptap.js (one level).
  const fromTsc = path.join(__dirname, '..', '..', 'analysis');
  const dir = fs.existsSync(path.join(fromTsc, 'analysis-worker.js')) ? fromTsc : path.join(__dirname, '..', 'analysis');
  const bundle = path.join(dir, 'analysis-worker.bundle.js');
  return fs.existsSync(bundle) ? bundle : path.join(dir, 'analysis-worker.js');
}

/** Start the analysis thread; entry: the worker's file (a test may wrap the real one). */
export function startThread(entry: string = workerEntry()): StartedThread {
  // stdout: true keeps anything the worker might print off our stdout, the client's stream.
  const worker = new Worker(entry, { stdout: true, trackUnmanagedFds: false });
  worker.stdout.pipe(process.stderr);
  const started: StartedThread = { worker, error: null };
  // Until analysis-thread.ts listens: a thread that cannot load its code says so there.
  worker.once('error', (err: Error) => { started.error = err; });
  return started;
}
