// `node dist/bench/listen-accept.js [--connections N] [--bpf off|auto]`: a connect burst at
// `lsptap --listen`, against the same burst straight at the daemon. A client process opens
// N UNIX-socket connections as fast as it can (all at once, none closed); the figures are
// how many connected, how many were refused (EAGAIN: the listen backlog was full) and how
// long until lsptap had a session for every accepted one. The daemon is a plain Node server
// that accepts and holds connections (the accept path is what is measured, not gopls).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';

const ROOT = path.join(__dirname, '..', '..');
const LSPTAP = path.join(ROOT, 'bin', 'lsptap');

const DAEMON = `
const net = require('net');
const held = [];
net.createServer((s) => { held.push(s); s.on('error', () => {}); }).listen({ path: process.argv[1], backlog: 4096 }, () => process.stdout.write('ready\\n'));
`;

const BURST = `
const net = require('net');
const [where, n] = [process.argv[1], Number(process.argv[2])];
let ok = 0, refused = 0, other = 0, settled = 0;
const held = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const s = net.connect({ path: where });
  held.push(s);
  s.once('connect', () => { ok++; done(); });
  s.once('error', (e) => { if (e.code === 'EAGAIN') refused++; else other++; done(); });
}
function done() {
  if (++settled < n) return;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ ok, refused, other, ms }) + '\\n');
  setTimeout(() => process.exit(0), 200);
}
`;

function waitLine(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${buf}`)), timeoutMs);
    child[stream]!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = pattern.exec(buf);
      if (m !== null) { clearTimeout(timer); resolve(m[0]); }
    });
  });
}

interface Burst { ok: number; refused: number; other: number; ms: number }

async function burst(where: string, n: number): Promise<Burst> {
  const c = spawn(process.execPath, ['-e', BURST, where, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(await waitLine(c, 'stdout', /\{.*\}/, 120_000)) as Burst;
}

function countSessions(log: string): number {
  try { return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('"msg":"session start"')).length; } catch { return 0; }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { connections: { type: 'string', default: '2000' }, bpf: { type: 'string', default: 'off' } } });
  const n = Number(values.connections);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-accept-'));
  const children: ChildProcess[] = [];
  try {
    const daemonSock = path.join(dir, 'daemon.sock');
    const daemon = spawn(process.execPath, ['-e', DAEMON, daemonSock], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(daemon);
    await waitLine(daemon, 'stdout', /ready/, 10_000);
    const direct = await burst(daemonSock, n);

    const sock = path.join(dir, 'lsptap.sock');
    const log = path.join(dir, 'log.jsonl');
    const lsptap = spawn(process.execPath, [LSPTAP, '--log', log, `--bpf=${values.bpf}`, '--listen', `unix:${sock}`, '--connect', `unix:${daemonSock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(lsptap);
    await waitLine(lsptap, 'stderr', /listening on/, 20_000);
    const t0 = Date.now();
    const via = await burst(sock, n);
    while (countSessions(log) < via.ok && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 50));
    const sessionsMs = Date.now() - t0;
    const sessions = countSessions(log);
    const row = (name: string, b: Burst, extra = ''): string => `${name.padEnd(22)} ${String(b.ok).padStart(6)} connected ${String(b.refused).padStart(6)} refused (${(100 * b.refused / n).toFixed(1)} %) burst settled in ${b.ms.toFixed(0)} ms${extra}`;
    process.stdout.write(`connect burst of ${n} UNIX-socket connections, --bpf=${values.bpf}\n`);
    process.stdout.write(`${row('straight to the daemon', direct)}\n`);
    process.stdout.write(`${row('through lsptap --listen', via, `; ${sessions} sessions started in ${sessionsMs} ms (${(sessions / (sessionsMs / 1000)).toFixed(0)}/s)`)}\n`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
