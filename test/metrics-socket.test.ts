// The --metrics unix socket is a file lsptap makes: created 0600 whatever the umask; at
// start it removes only a dead socket of its own user (left by a session that was
// SIGKILLed), never a live one, another user's or a file that is not a socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LsptapMetrics, serveMetrics } from '../src/sinks/metrics';
import { lsptapBin, tmpDir, waitFor } from './helpers/index';

const isRoot = process.getuid?.() === 0;

function listen(sock: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.end());
    s.once('error', reject);
    s.listen(sock, () => resolve(s));
  });
}

/** A socket file nobody listens on: its process was SIGKILLed. */
async function deadSocket(sock: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.lstatSync(sock).isSocket());
}

test('creates the metrics socket 0600 even under umask 000, and removes it on close', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  const old = process.umask(0);
  let server;
  try { server = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }); } finally { process.umask(old); }
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  await server.close();
  await waitFor(() => !fs.existsSync(sock), 2000, 'socket removed');
});

test('replaces a dead socket of its own user left by a killed session', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  await deadSocket(sock);
  const server = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock });
  await server.close();
});

test('leaves a live socket at the path alone and says the address is in use', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  const other = await listen(sock);
  t.after(() => other.close());
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }), /cannot serve metrics on .*m\.sock: EADDRINUSE/);
  await new Promise<void>((resolve, reject) => { const c = net.connect(sock, () => { c.destroy(); resolve(); }); c.once('error', reject); });
});

test('never unlinks a regular file at the metrics path', async (t) => {
  const file = path.join(tmpDir(t), 'not-a-socket');
  fs.writeFileSync(file, 'keep me');
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: file }), /EADDRINUSE/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
});

test('never unlinks a dead socket that belongs to another user', isRoot ? {} : { skip: 'needs root to chown' }, async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  await deadSocket(sock);
  fs.lchownSync(sock, 65534, 65534);
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }), /EADDRINUSE/);
  assert.equal(fs.lstatSync(sock).uid, 65534);
});

test('at close removes only the socket it created: another session\'s live socket at the path stays', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'm.sock');
  const a = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock });
  // Session A's socket file is removed (a tmp cleaner, a user) and session B takes the path.
  fs.unlinkSync(sock);
  const b = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock });
  await a.close();
  assert.ok(fs.existsSync(sock), 'session B\'s socket is still there after session A closed');
  const answered = await new Promise<boolean>((resolve) => {
    const c = net.connect(sock, () => { c.end('GET /metrics HTTP/1.0\r\n\r\n'); });
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.once('close', () => resolve(got.startsWith('HTTP/1.1 200')));
    c.once('error', () => resolve(false));
  });
  assert.ok(answered, 'session B still serves metrics');
  await b.close();
  assert.ok(!fs.existsSync(sock), 'session B removes its own socket');
  assert.deepEqual(fs.readdirSync(dir), [], 'no private bind name is left behind');
});

test('--metrics on a non-loopback address is served with one warn line on stderr; loopback gets none', async (t) => {
  const run = (addr: string): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [lsptapBin, '--log', path.join(tmpDir(t), 'log.jsonl'), '--metrics', addr, '--', 'true'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.stdin.end();
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  const open = await run('tcp:0.0.0.0:0');
  assert.equal(open.code, 0);
  assert.equal(open.stderr, 'lsptap: warning: --metrics tcp:0.0.0.0:0 is not a loopback address: other machines can read these metrics (method names, message counts, latencies); use tcp:127.0.0.1:PORT or unix:PATH to keep them on this machine\n');
  for (const addr of ['tcp:127.0.0.1:0', 'tcp:[::1]:0', 'tcp:localhost:0']) {
    const quiet = await run(addr);
    assert.deepEqual(quiet, { code: 0, stderr: '' }, addr);
  }
});
