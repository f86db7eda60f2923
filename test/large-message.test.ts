// A 50 MB message each way: relayed whole, identified without a full parse, and lsptap's
// memory stays bounded (backpressure, no copy of the body).

import { test } from 'node:test';
import { RING_BYTES } from '../src/proxy/worker/analysis-link';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connect, lspServer, messages, readLog, startLsptap, tmpDir } from './helpers/index';
import { kernelDecided } from './helpers/kernel';

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

test('relays a 50 MB notification both ways whole, logging both, with bounded memory', { timeout: 120_000 }, async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  // Profiling off: this bounds the relay's memory by the message. What profiling holds (the
  // symbol tables, about 6.6 MB for this node server and the kernel) is bounded apart, in
  // symbols-memory.test.ts, and reported per session (session end's symbolBytes).
  const r = startLsptap(t, ['--log', log, '--profile-hz', '0'], [process.execPath, lspServer]);
  const conn = connect(r.child);
  const size = 50 * 1024 * 1024;
  let peakKb = 0;
  const sampler = setInterval(() => { peakKb = Math.max(peakKb, vmHwmKb(r.child.pid!)); }, 20);
  t.after(() => clearInterval(sampler));
  const back = new Promise<number>((resolve) => conn.onNotification('test/bigNotify', (p: { text: string }) => resolve(p.text.length)));
  await conn.sendRequest('test/echo', {});
  // The start figure after lsptap's own start is done: kernel timing is loaded in the
  // background, and a reading taken before it lands was 50-57 MB against a ~113 MB peak.
  await kernelDecided(log, r);
  await conn.sendRequest('test/echo', {});
  const startKb = vmHwmKb(r.child.pid!);
  await conn.sendNotification('test/bigNotify', { bytes: size, text: 'z'.repeat(size) });
  assert.equal(await back, size);
  await conn.sendRequest('shutdown');
  peakKb = Math.max(peakKb, vmHwmKb(r.child.pid!));
  await conn.sendNotification('exit');
  assert.equal((await r.exited).code, 0);
  const lines = readLog(log);
  const big = messages(lines).filter((m) => m.method === 'test/bigNotify');
  assert.deepEqual(big.map((m) => [m.dir, m.kind]), [['c2s', 'notification'], ['s2c', 'notification']]);
  assert.ok(big.every((m) => (m.bytes as number) > size));
  // The body is never held whole: peak RSS grows by less than one copy of the message
  // beyond the fixed ring the analysis thread reads from (touched as it is used).
  t.diagnostic(`lsptap VmHWM: start ${startKb} kB, peak ${peakKb} kB, message ${size / 1024} kB, ring ${RING_BYTES / 1024} kB`);
  assert.ok(peakKb - startKb < (size + RING_BYTES) / 1024, `peak RSS grew by ${peakKb - startKb} kB`);
});
