// lsptap's own lines on stderr (summary tables, listen messages, startup errors, advice).
// Editors close or ignore a server's stderr: a write to a closed pipe fails with EPIPE,
// which Node reports as an 'error' event on process.stderr, and with no listener that is an
// uncaught exception: lsptap would exit 70 instead of with the server's code. And a stderr
// nobody reads must not hold lsptap: the server shares it, blocking (libuv makes a child's
// stdio blocking), so our lines go through a non-blocking description of our own where Linux
// can make one (log-file.ts reopenNonBlocking) and are dropped when it is full. These lines
// are advice, never worth the session.

import fs from 'node:fs';
import { reopenNonBlocking } from '../sinks/log-file';

let guarded = false;
/** Our own non-blocking stderr (undefined: not tried yet; null: stderr is a socket). */
let ownFd: number | null | undefined;

/** Make every later stderr write safe from a closed or broken stderr. Idempotent. */
export function guardStderr(): void {
  if (guarded) return;
  guarded = true;
  process.stderr.on('error', () => { /* the reader is gone: our lines have nowhere to go */ });
}

/** Write one of lsptap's own lines; never throws, never blocks on a full stderr where it can help it. */
export function writeStderr(text: string): void {
  guardStderr();
  if (ownFd === undefined) ownFd = reopenNonBlocking(2);
  if (ownFd === null) {
    try { process.stderr.write(text); } catch { /* destroyed: nothing to do */ }
    return;
  }
  const buf = Buffer.from(text);
  try {
    for (let at = 0; at < buf.length;) at += fs.writeSync(ownFd, buf, at);
  } catch { /* EAGAIN (full) or EPIPE (closed): the rest is dropped */ }
}
