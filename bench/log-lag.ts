// How long after the client had its last answer lsptap's log held that answer's line. The
// analysis runs behind the relay (docs/architecture.md "Decisions": two threads), so the client's figures alone would
// hide work still to do; the benchmark waits for the log before it reads lsptap's CPU, and
// reports the wait.

import fs from 'node:fs';

const TAIL_BYTES = 256 * 1024;

/** True when the log's tail has the s2c response line for id. */
function logged(logPath: string, id: number): boolean {
  let fd: number;
  try { fd = fs.openSync(logPath, 'r'); } catch { return false; }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const want = `"id":${id},`;
    return buf.toString('utf8').split('\n').some((l) => l.includes(want) && l.includes('"dir":"s2c"') && l.includes('"kind":"response"'));
  } finally { fs.closeSync(fd); }
}

/** Wait (polling every 2 ms, at most timeoutMs) until id's response is logged; ms waited, or null on timeout. */
export async function waitUntilLogged(logPath: string, id: number, timeoutMs = 180_000): Promise<number | null> {
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (logged(logPath, id)) return Number(process.hrtime.bigint() - t0) / 1e6;
    if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) return null;
    await new Promise((r) => setTimeout(r, 2));
  }
}
