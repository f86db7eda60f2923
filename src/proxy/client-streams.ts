// lsptap's own stdin/stdout as the client side of a session. Node makes stdout on a pipe or
// socket asynchronous on Linux, so a client that stops reading does not freeze the other
// direction; the price is that exit must wait for stdout to drain.

import type { Readable, Writable } from 'node:stream';

export interface ClientStreams { input: Readable; output: Writable }

export function stdioClient(): ClientStreams {
  return { input: process.stdin, output: process.stdout };
}

/** Resolve once everything written to out has reached the kernel, or after timeoutMs. */
export function drained(out: Writable, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (out.writableLength === 0 || out.destroyed) { resolve(); return; }
    const timer = setTimeout(resolve, timeoutMs);
    const done = (): void => { clearTimeout(timer); resolve(); };
    out.once('drain', done);
    out.once('error', done);
    out.once('close', done);
  });
}
