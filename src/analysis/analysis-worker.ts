// Entry point of the analysis thread. It runs at a lower scheduling priority than the relay
// (on Linux a thread's nice value and policy are its own): nice 10 here, and SCHED_IDLE set
// by the relay thread (analysis-link.ts), so when the machine is busy the editor's bytes go
// first and the log catches up after the burst. It reads the ring until it is empty,
// then sleeps on Atomics.waitAsync until the relay thread wakes it.

import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ChunkRingReader } from '../bridge/chunk-ring';
import { AnalysisHost } from './analysis-host';
import { currentThreadId } from '../probes/thread-id';
import { ANALYSIS_NICE, type ThreadInput, type WorkerMessage } from '../bridge/protocol';

/** While busy, how often the ring is read; and how long it stays quiet before we sleep. */
const POLL_MS = 2;
const IDLE_MS = 100;
/** Bytes read per turn before timers and log writes get a turn of the event loop. */
const TURN_BYTES = 1 << 20;

/** The thread's first message configures it. */
function awaitInput(): void {
  const port = parentPort;
  if (port === null) throw new Error('analysis-worker.js runs as a worker thread');
  port.once('message', (input: ThreadInput) => run(input));
}

function run(input: ThreadInput): void {
  const port = parentPort;
  if (port === null) return;
  // Usually set already by the relay thread as it created this one (analysis-thread.ts).
  try { os.setPriority(0, ANALYSIS_NICE); } catch { /* not allowed: run at the relay's priority */ }
  const post = (m: WorkerMessage): void => port.postMessage(m);
  const ring = new ChunkRingReader(input.ring);
  const host = new AnalysisHost(input.config, post, ring);
  // A bug of ours here: write what we have and why, then stop; the relay goes on unlogged.
  process.on('uncaughtException', (err) => {
    host.failed(err);
    post({ type: 'failed', message: err.message });
    process.exit(1);
  });
  // Keeps this thread alive while it waits: waitAsync alone does not.
  port.on('message', () => undefined);

  // While records keep coming, look every POLL_MS instead of being woken per chunk: one
  // wake-up per message would cost the relay a futex call and the machine two context
  // switches per message. After IDLE_MS without records, sleep until woken.
  let lastRecordMs = 0;
  const onRecord = host.onRecord;
  const pump = (): void => {
    if (ring.read(onRecord, TURN_BYTES) > 0) lastRecordMs = Date.now();
    if (host.fatalSeen) { ring.markFatalDone(); host.fatalSeen = false; }
    if (ring.takeProducerWaiting()) post({ type: 'space' });
    if (!ring.empty) { setImmediate(pump); return; }
    if (Date.now() - lastRecordMs < IDLE_MS) { setTimeout(pump, POLL_MS); return; }
    const seq = ring.prepareWait();
    if (seq === null) { setImmediate(pump); return; }
    const woken = ring.waitAsync(seq);
    if (woken === null) setImmediate(pump);
    else void woken.then(pump);
  };

  void host.init().then((r) => {
    post(r.ok ? { type: 'ready', kernel: r.kernel, tid: currentThreadId() } : { type: 'init-failed', kind: r.kind, message: r.message });
    if (r.ok) pump();
  });
}

awaitInput();
