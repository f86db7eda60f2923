// Starting the analysis thread: the Worker, and what must happen on this thread around it
// (ffi-rs loaded first, the umask for a unix metrics socket). Resolves once the thread has
// loaded the probes and started serving metrics, or rejects with the startup error to print.
//
// A thread costs a V8 isolate and the load of its bundle, ~100 ms here, and a session's log
// waits for it. bin/lsptap starts it first thing (thread-start.ts), before the rest of
// lsptap's code is loaded, so the two starts overlap on two cores; entry.ts hands it here (or
// starts it, when run without bin/lsptap), and its configuration follows by message once the
// command line is read.

import type { Worker } from 'node:worker_threads';
import { startThread, type StartedThread } from './thread-start';
import type { RingBuffers } from '../../bridge/chunk-ring';
import type { AnalysisConfig, ThreadInput, WorkerMessage } from '../../bridge/protocol';
import { StartupError, MetricsAddressError } from '../../model/errors';
import { loadFfiRs } from '../../probes/native';

export interface ThreadReady { kernel: boolean; tid: number | null }

/**
 * ffi-rs must be loaded on the main thread before a worker loads it: otherwise the worker's
 * teardown crashes the process (as napi-rs/package-template#308 describes). Through
 * native.ts, which skips ffi-rs's loader's musl probe (7 ms of this thread's CPU).
 */
function preloadFfi(config: AnalysisConfig): void {
  if (config.bpf !== 'off') loadFfiRs();
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

let prestarted: StartedThread | null = null;

/** Start the thread now; the next startAnalysisThread() configures it. Unused, it dies with the process. */
export function prestartAnalysisThread(): void {
  prestarted ??= startThread();
}

/** A thread bin/lsptap started before this code was loaded (thread-start.ts). */
export function adoptStartedThread(started: StartedThread): void {
  prestarted ??= started;
}

export function startAnalysisThread(config: AnalysisConfig, ring: RingBuffers): { worker: Worker; ready: Promise<ThreadReady> } {
  preloadFfi(config);
  const restoreMask = holdUmask(config);
  const { worker, error } = prestarted ?? startThread();
  prestarted = null;
  worker.removeAllListeners('error');
  const input: ThreadInput = { type: 'configure', config, ring };
  worker.postMessage(input);
  const ready = new Promise<ThreadReady>((resolve, reject) => {
    if (error !== null) { restoreMask(); reject(error); return; }
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
