// lsptap's own lines on stderr (summary tables, listen messages, startup errors, advice).
// Editors close or ignore a server's stderr: a write to a closed pipe fails with EPIPE,
// which Node reports as an 'error' event on process.stderr, and with no listener that is an
// uncaught exception: lsptap would exit 70 instead of with the server's code. A full stderr
// only queues (Node writes pipes asynchronously here), and what is queued at exit is lost:
// these lines are advice, never worth the session.

let guarded = false;

/** Make every later stderr write safe from a closed or broken stderr. Idempotent. */
export function guardStderr(): void {
  if (guarded) return;
  guarded = true;
  process.stderr.on('error', () => { /* the reader is gone: our lines have nowhere to go */ });
}

/** Write one of lsptap's own lines; never throws, never fails the session. */
export function writeStderr(text: string): void {
  guardStderr();
  try { process.stderr.write(text); } catch { /* destroyed: nothing to do */ }
}
