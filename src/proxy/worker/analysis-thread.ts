// Starting the analysis thread: the Worker, and what must happen on this thread around it
// (ffi-rs loaded first, the umask for a unix metrics socket, the thread's nice value).
// Resolves once the thread has loaded the probes and started serving metrics, or rejects with
// the startup error to print.
//
// A thread costs a V8 isolate and the load of its bundle, ~100 ms of CPU here, and nothing
// of it is needed to relay: a child server is spawned first and the thread started after
// (analysis-link.ts), at its own lower priority from its first instruction, so on a machine
// with few cores the server's start goes first (docs/architecture.md, "Start order").

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { RingBuffers } from '../../bridge/chunk-ring';
import { ANALYSIS_NICE, type AnalysisConfig, type ThreadInput, type WorkerMessage } from '../../bridge/protocol';
import { StartupError, MetricsAddressError } from '../../model/errors';
import { loadFfiRs } from '../../probes/native';

export interface ThreadReady { kernel: boolean; tid: number | null }

/** The worker's entry: the one-file bundle when the build made it (scripts/bundle.js), else tsc's output. */
function defaultWorkerFile(): string {
  // This file runs from dist/src/proxy/worker/ (two levels below dist/src) or inside
  // dist/src/bundle/lsptap.js (one level).
  const fromTsc = path.join(__dirname, '..', '..', 'analysis');
  const dir = fs.existsSync(path.join(fromTsc, 'analysis-worker.js')) ? fromTsc : path.join(__dirname, '..', 'analysis');
  const bundle = path.join(dir, 'analysis-worker.bundle.js');
  return fs.existsSync(bundle) ? bundle : path.join(dir, 'analysis-worker.js');
}

let workerFile: string | null = null;

/** Run the analysis thread from file instead (entry.ts: a test's worker with faults patched in). */
export function useWorkerFile(file: string): void {
  workerFile = file;
}

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

/** Our threads' ids (Linux: /proc/self/task); null where there is no such directory. */
function threadIds(): Set<string> | null {
  try { return new Set(fs.readdirSync('/proc/self/task')); } catch { return null; }
}

/**
 * Create the Worker and give its thread the analysis nice value at once: the thread exists
 * when the constructor returns, and its own os.setPriority (analysis-worker.ts) runs only
 * after its start (~100 ms of CPU), which would otherwise compete with the server's at the
 * relay's priority. On Linux a thread's nice value is its own; raising it needs no privilege.
 */
function createWorker(file: string): Worker {
  // Loaded here, after the server's spawn: node:worker_threads brings six internal modules.
  const { Worker: WorkerThread } = require('node:worker_threads') as typeof import('node:worker_threads');
  const before = threadIds();
  const worker = new WorkerThread(file, { stdout: true, trackUnmanagedFds: false });
  const after = before === null ? null : threadIds();
  const nice = Math.max(os.getPriority(0), ANALYSIS_NICE);
  for (const tid of after ?? []) {
    if (before?.has(tid) === true) continue;
    try { os.setPriority(Number(tid), nice); } catch { /* gone, or not allowed: the thread tries itself */ }
  }
  // stdout: true keeps anything the worker might print off our stdout, the client's stream.
  worker.stdout.pipe(process.stderr);
  return worker;
}

export function startAnalysisThread(config: AnalysisConfig, ring: RingBuffers): { worker: Worker; ready: Promise<ThreadReady> } {
  preloadFfi(config);
  const restoreMask = holdUmask(config);
  const worker = createWorker(workerFile ?? defaultWorkerFile());
  const input: ThreadInput = { type: 'configure', config, ring };
  worker.postMessage(input);
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
