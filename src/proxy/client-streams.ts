// lsptap's own stdin/stdout as the client side of a session. Node makes stdout on a pipe or
// socket asynchronous on Linux, so a client that stops reading does not freeze the other
// direction; the price is that exit must wait for stdout to drain.

import type { Readable, Writable } from 'node:stream';

export interface ClientStreams { input: Readable; output: Writable }

export function stdioClient(): ClientStreams {
  return { input: process.stdin, output: process.stdout };
}

/** How often a flush wait looks at the queue: 'drain' fires only after a write returned false. */
const FLUSH_POLL_MS = 20;

/**
 * Resolves once everything written to out has reached the kernel, or out is closed or
 * broken (the client went away). No timeout: a client that reads slowly still gets every
 * byte; the caller stops waiting on its own terms (a signal) with cancel().
 */
export function whenFlushed(out: Writable): { done: Promise<void>; cancel: () => void } {
  let cancel = (): void => {};
  const done = new Promise<void>((resolve) => {
    const isDone = (): boolean => out.writableLength === 0 || out.destroyed || out.writableFinished;
    if (isDone()) { resolve(); return; }
    const finish = (): void => {
      clearInterval(poll);
      out.removeListener('drain', check);
      out.removeListener('error', finish);
      out.removeListener('close', finish);
      resolve();
    };
    const check = (): void => { if (isDone()) finish(); };
    const poll = setInterval(check, FLUSH_POLL_MS);
    out.on('drain', check);
    out.once('error', finish);
    out.once('close', finish);
    cancel = finish;
  });
  return { done, cancel: () => cancel() };
}
