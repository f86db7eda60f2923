// The calling thread's kernel id (its tid, which a worker thread's own /proc/thread-self
// names): the relay thread sets the analysis thread's scheduling policy by it, and kernel
// timing tells the analysis thread's own syscalls from the relay's by it.

import fs from 'node:fs';

/** This thread's kernel id, or null when /proc cannot say. */
export function currentThreadId(): number | null {
  try { return Number(fs.readlinkSync('/proc/thread-self').split('/')[2]) || null; } catch { return null; }
}
