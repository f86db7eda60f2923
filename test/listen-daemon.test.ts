// `lsptap --listen` as a daemon: a connect burst is queued, not refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { lsptapBin, readLog, start, tmpDir, waitFor } from './helpers/index';

/** A server that accepts and holds every connection (the daemon's accept path is not under test). */
const HOLDING_SERVER = `
const net = require('net');
const held = [];
net.createServer((s) => { held.push(s); s.on('error', () => {}); }).listen({ path: process.argv[1], backlog: 4096 }, () => process.stdout.write('ready\\n'));
`;

/** Opens N connections in one tick and prints how they settled. */
const BURST = `
const net = require('net');
const [where, n] = [process.argv[1], Number(process.argv[2])];
let ok = 0, refused = 0, settled = 0;
const held = [];
for (let i = 0; i < n; i++) {
  const s = net.connect({ path: where });
  held.push(s);
  s.once('connect', () => { ok++; done(); });
  s.once('error', (e) => { if (e.code === 'EAGAIN') refused++; done(); });
}
function done() { if (++settled === n) { process.stdout.write(JSON.stringify({ ok, refused }) + '\\n'); process.exit(0); } }
`;

test('--listen queues a burst of 1,500 connects (listen backlog 4096) instead of refusing them with EAGAIN', { timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const daemonSock = path.join(dir, 'd.sock');
  const daemon = start(t, process.execPath, ['-e', HOLDING_SERVER, daemonSock]);
  let out = '';
  daemon.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  await waitFor(() => out.includes('ready'), 10_000, 'daemon');
  const log = path.join(dir, 'log.jsonl');
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', log, '--bpf=off', '--listen', `unix:${path.join(dir, 'l.sock')}`, '--connect', `unix:${daemonSock}`]);
  await waitFor(() => lsptap.stderr().includes('listening on'), 10_000, 'lsptap listening');
  const n = 1500;
  const burst = spawn(process.execPath, ['-e', BURST, path.join(dir, 'l.sock'), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => burst.kill('SIGKILL'));
  let res = '';
  burst.stdout.on('data', (c: Buffer) => { res += c.toString(); });
  await waitFor(() => res.includes('\n'), 120_000, 'burst settled');
  const settled = JSON.parse(res) as { ok: number; refused: number };
  assert.deepEqual(settled, { ok: n, refused: 0 });
  await waitFor(() => readLog(log).filter((l) => l.msg === 'session start').length === n, 120_000, `${n} sessions started`);
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
});
