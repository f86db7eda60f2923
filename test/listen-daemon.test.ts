// `lsptap --listen` as a daemon: a connect burst is queued, not refused; one server per
// connection (`--listen ADDR -- COMMAND`); a socket inherited from systemd (`--listen systemd`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connect, goFixture, lsptapBin, readLog, repoRoot, sessionLogs, start, tmpDir, waitFor, type LogLine } from './helpers/index';
import { fixtureSession, realGopls } from './helpers/dropin';
import { bpfSkipReason } from './helpers/kernel';

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
  await waitFor(() => lsptap.stderr().includes('listening on'), 30_000, 'lsptap listening');
  const n = 1500;
  const burst = spawn(process.execPath, ['-e', BURST, path.join(dir, 'l.sock'), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => burst.kill('SIGKILL'));
  let res = '';
  burst.stdout.on('data', (c: Buffer) => { res += c.toString(); });
  await waitFor(() => res.includes('\n'), 120_000, 'burst settled');
  const settled = JSON.parse(res) as { ok: number; refused: number };
  assert.deepEqual(settled, { ok: n, refused: 0 });
  await waitFor(() => linesWith(log, 'session start') === n, 120_000, `${n} sessions started`);
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
});

const needGopls = realGopls === null ? { skip: 'gopls is not installed (scripts/setup.sh installs it)' } : {};

/** One editor's whole session through a real `gopls -remote=REMOTE` forwarder. */
async function remoteEditor(t: Parameters<typeof start>[0], remote: string): Promise<number> {
  const editor = start(t, realGopls!, [`-remote=${remote}`], { cwd: goFixture });
  const conn = connect(editor.child);
  const answers = await fixtureSession(conn);
  assert.match(answers.hover, /Greet\(name string\) string/);
  editor.child.stdin!.end();
  await editor.exited;
  conn.dispose();
  return editor.child.pid!;
}

function sessionStarts(log: string): LogLine[] {
  return readLog(log).filter((l) => l.msg === 'session start');
}

test('--listen ADDR -- gopls starts one gopls per connection: two concurrent editors, two servers, each its own session', { ...needGopls, timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l.sock');
  const log = path.join(dir, 'log.jsonl');
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', log, '--listen', `unix:${sock}`, '--', 'gopls'], { cwd: goFixture });
  await waitFor(() => lsptap.stderr().includes('listening on'), 30_000, 'lsptap listening');
  assert.match(lsptap.stderr(), /starting "gopls" for each connection/);
  const editors = await Promise.all([0, 1].map(() => remoteEditor(t, `unix;${sock}`)));
  await waitFor(() => linesWith(log, 'session end') === 2, 20_000, 'two session ends');
  const starts = sessionStarts(log);
  assert.equal(starts.length, 2);
  const servers = starts.map((s) => s.serverPid as number);
  assert.notEqual(servers[0], servers[1], 'each connection has its own gopls');
  for (const s of starts) assert.deepEqual(s.command, ['gopls']);
  assert.deepEqual(starts.map((s) => s.clientPid).sort(), editors.sort());
  for (const end of readLog(log).filter((l) => l.msg === 'session end')) assert.equal(end.exitCode, 0, 'each gopls exited 0 after its editor\'s exit');
  for (const pid of servers) assert.throws(() => process.kill(pid, 0), 'the server process is gone');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
});

test('--listen -- gopls with kernel timing: a per-connection gopls gets the kernel fields of a stdio session', { skip: realGopls === null ? 'gopls is not installed' : bpfSkipReason(), timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l.sock');
  const log = path.join(dir, 'log.jsonl');
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', log, '--bpf=require', '--listen', `unix:${sock}`, '--', 'gopls'], { cwd: goFixture });
  await waitFor(() => lsptap.stderr().includes('listening on'), 30_000, 'lsptap listening');
  await remoteEditor(t, `unix;${sock}`);
  await waitFor(() => linesWith(log, 'session end') >= 1, 20_000, 'session end');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
  const lines = readLog(log);
  const k = sessionStarts(log)[0].kernel as { serverFds: number[] };
  assert.deepEqual(k.serverFds, [0, 1], 'the server is timed on its stdin and stdout');
  const hover = lines.find((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/hover')!;
  for (const f of ['toServerPipeUs', 'serverUs', 'toLsptapPipeUs', 'toEditorPipeUs']) assert.equal(typeof (hover.kernel as Record<string, unknown>)[f], 'number', `${f} on ${JSON.stringify(hover)}`);
});

function socketActivateSkip(): string | false {
  if (spawnSync('sh', ['-c', 'command -v systemd-socket-activate']).status === 0) return false;
  const reason = 'systemd-socket-activate (Debian package systemd) is not installed';
  assert.ok(process.env.CI !== 'true', `CI=true: ${reason}`);
  return reason;
}

test('--listen systemd takes the socket systemd-socket-activate passes (LISTEN_FDS/LISTEN_PID) and serves gopls -remote editors on it', { skip: needGopls.skip ?? socketActivateSkip(), timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'activated.sock');
  // docs/lsptap.service's own ExecStart, with this checkout's lsptap and a temporary state
  // directory (%S): systemd-socket-activate binds and passes fd 3 as the .socket unit would.
  const unit = fs.readFileSync(path.join(repoRoot, 'docs', 'lsptap.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].split(/\s+/);
  assert.equal(execStart[0], '%h/.local/bin/lsptap');
  const args = execStart.slice(1).map((a) => a.replace('%S', dir));
  assert.deepEqual(args.slice(0, 2), ['--listen', 'systemd']);
  const socketUnit = fs.readFileSync(path.join(repoRoot, 'docs', 'lsptap.socket'), 'utf8');
  assert.match(socketUnit, /^ListenStream=%t\/lsptap\/gopls\.sock$/m);
  const activator = start(t, 'systemd-socket-activate', ['-l', sock, process.execPath, lsptapBin, ...args], { cwd: goFixture });
  await waitFor(() => activator.stderr().includes('Listening on'), 10_000, 'systemd-socket-activate listening');
  await remoteEditor(t, `unix;${sock}`);
  await remoteEditor(t, `unix;${sock}`);
  const logDir = path.join(dir, 'lsptap');
  const logOf = (): string => path.join(logDir, sessionLogs(logDir)[0]);
  await waitFor(() => fs.existsSync(logDir) && linesWith(logOf(), 'session end') === 2, 20_000, 'two session ends');
  const starts = sessionStarts(logOf());
  assert.equal(starts.length, 2, 'one lsptap served both connections, into one log (Accept=no)');
  assert.equal(starts[0].pid, starts[1].pid);
  assert.equal(starts[0].listen, 'systemd:fd3');
  assert.match(activator.stderr(), /lsptap: listening on systemd:fd3/);
  activator.child.kill('SIGTERM');
  assert.deepEqual(await activator.exited, { code: 0, signal: null }, activator.stderr());
  assert.ok(fs.existsSync(sock), 'the socket is systemd\'s: lsptap leaves it in place');
});

test('--listen systemd without a passed socket says so in one line and exits 1', () => {
  const r = spawnSync(process.execPath, [lsptapBin, '--listen', 'systemd', '--', 'gopls'], { encoding: 'utf8', env: { ...process.env, LISTEN_FDS: undefined, LISTEN_PID: undefined } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^lsptap: --listen systemd: no socket was passed \(LISTEN_FDS and LISTEN_PID are not set\)/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

/** Log lines with this msg, counted in the raw text: the log is being written while we wait (its last line may be cut). */
function linesWith(log: string, msg: string): number {
  try { return fs.readFileSync(log, 'utf8').split(`"msg":"${msg}"`).length - 1; } catch { return 0; }
}
