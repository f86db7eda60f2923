// Starting the analysis thread: the Worker, and what must happen on this thread around it
// (ffi-rs loaded first, the umask for a unix metrics socket). Resolves once the thread has
// loaded the probes and started serving metrics, or rejects with the startup error to print.

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RingBuffers } from '../bridge/chunk-ring';
import type { AnalysisConfig, WorkerMessage } from '../bridge/protocol';
import { StartupError, MetricsAddressError } from '../model/errors';

export interface ThreadReady { kernel: boolean; tid: number | null }

/** The worker's entry: the one-file bundle when the build made it (scripts/bundle.js), else tsc's output. */
function workerEntry(): string {
  const dir = path.join(__dirname, '..', 'analysis');
  const bundle = path.join(dir, 'analysis-worker.bundle.js');
  return fs.existsSync(bundle) ? bundle : path.join(dir, 'analysis-worker.js');
}

/**
 * ffi-rs must be loaded on the main thread before a worker loads it: otherwise the worker's
 * teardown crashes the process (as napi-rs/package-template#308 describes).
 */
function preloadFfi(config: AnalysisConfig): void {
  if (config.bpf !== 'off') require('ffi-rs');
}

/**
 * A unix metrics socket is made 0600 by binding it under umask 177, which only the main
 * thread can set: hold it until the worker is listening (nothing else is created meanwhile).
 * Returns the function that restores the old mask.
 */
function holdUmask(config: AnalysisConfig): () => void {
  if (config.metricsAddress?.startsWith('unix:') !== true) return () => undefined;
  const old = process.umask(0o177);
  return () => { process.umask(old); };
}

export function startAnalysisThread(config: AnalysisConfig, ring: RingBuffers): { worker: Worker; ready: Promise<ThreadReady> } {
  preloadFfi(config);
  const restoreMask = holdUmask(config);
  // stdout: true keeps anything the worker might print off our stdout, the client's stream.
  const worker = new Worker(workerEntry(), { workerData: { config, ring }, stdout: true, trackUnmanagedFds: false });
  worker.stdout.pipe(process.stderr);
  const ready = new Promise<ThreadReady>((resolve, reject) => {
    const onMessage = (m: WorkerMessage): void => {
      if (m.type !== 'ready' && m.type !== 'init-failed') return;
      worker.removeListener('message', onMessage);
      worker.removeListener('error', onError);
      restoreMask();
      if (m.type === 'ready') { resolve({ kernel: m.kernel, tid: m.tid }); return; }
      void worker.terminate();
      reject(m.kind === 'metrics' ? new MetricsAddressError(m.message) : new StartupError(m.message));
    };
    const onError = (err: Error): void => { worker.removeListener('message', onMessage); restoreMask(); reject(err); };
    worker.on('message', onMessage);
    worker.once('error', onError);
  });
  return { worker, ready };
}
