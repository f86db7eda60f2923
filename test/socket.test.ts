// Socket mode against the real gopls daemon: `lsptap --connect` in place of a child process,
// and `lsptap --listen ... --connect ...` in front of the daemon with real `gopls -remote`
// forwarders as editors. Plus the ways a socket goes wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { collect, connect, fixtures, goFixture, lsptapBin, messages, readLog, sha256, start, tmpDir, waitFor, type LogLine } from './helpers/index';
import { fixtureSession, realGopls, startDaemon, twoRemoteEditors } from './helpers/dropin';
import { missingUnless, skipUnless, which } from './helpers/capabilities';
import { bpfSkipReason } from './helpers/kernel';

const needGopls = skipUnless(missingUnless('gopls', realGopls !== null));

function startLsptap(t: Parameters<typeof start>[0], args: string[]): ReturnType<typeof start> {
  return start(t, process.execPath, [lsptapBin, ...args], { cwd: goFixture });
}

async function waitForTcp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on port ${port}`);
}

/** One editor's whole session through a real `gopls -remote=REMOTE` forwarder. */
async function remoteEditorSession(t: Parameters<typeof start>[0], remote: string): Promise<{ answers: Awaited<ReturnType<typeof fixtureSession>>; editor: ReturnType<typeof start> }> {
  const editor = start(t, realGopls!, [`-remote=${remote}`], { cwd: goFixture });
  const conn = connect(editor.child);
  const answers = await fixtureSession(conn);
  editor.child.stdin!.end();
  await editor.exited;
  conn.dispose();
  return { answers, editor };
}

/** A gopls daemon and `lsptap --connect unix:DAEMON` with a vscode-jsonrpc client on its stdio. */
async function connectToDaemon(t: Parameters<typeof start>[0], extra: string[] = []): Promise<{ sock: string; log: string; daemon: ReturnType<typeof start>; lsptap: ReturnType<typeof start>; conn: ReturnType<typeof connect> }> {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'daemon.sock');
  const log = path.join(dir, 'log.jsonl');
  const daemon = await startDaemon(t, sock);
  const lsptap = startLsptap(t, ['--log', log, ...extra, '--connect', `unix:${sock}`]);
  return { sock, log, daemon, lsptap, conn: connect(lsptap.child) };
}

/** A gopls daemon with `lsptap --listen unix:... --connect unix:DAEMON` in front, listening. */
async function listenInFrontOfDaemon(t: Parameters<typeof start>[0]): Promise<{ sock: string; log: string; daemon: ReturnType<typeof start>; lsptap: ReturnType<typeof start> }> {
  const dir = tmpDir(t);
  const daemonSock = path.join(dir, 'daemon.sock');
  const sock = path.join(dir, 'lsptap.sock');
  const log = path.join(dir, 'log.jsonl');
  const daemon = await startDaemon(t, daemonSock);
  const lsptap = startLsptap(t, ['--log', log, '--listen', `unix:${sock}`, '--connect', `unix:${daemonSock}`]);
  await waitFor(() => lsptap.stderr().includes('listening on'), 10000, 'lsptap listening');
  return { sock, log, daemon, lsptap };
}

function sessionsOf(lines: LogLine[]): Map<string, LogLine[]> {
  const by = new Map<string, LogLine[]>();
  for (const l of lines) {
    const s = String(l.session);
    if (s === 'listener') continue;
    by.set(s, [...(by.get(s) ?? []), l]);
  }
  return by;
}

test('--connect unix: relays a real gopls daemon session, logged as in stdio mode with the daemon\'s pid', needGopls, async (t) => {
  const { sock, log, daemon, lsptap, conn } = await connectToDaemon(t);
  const answers = await fixtureSession(conn);
  lsptap.child.stdin!.end();
  const exit = await lsptap.exited;
  conn.dispose();

  assert.match(answers.hover, /Greet\(name string\) string/);
  assert.match(answers.definitionUri, /shout\.go$/);
  assert.deepEqual(exit, { code: 0, signal: null }, lsptap.stderr());
  const lines = readLog(log);
  const startLine = lines.find((l) => l.msg === 'session start')!;
  assert.equal(startLine.transport, 'unix');
  assert.equal(startLine.address, `unix:${sock}`);
  assert.equal(startLine.serverPid, daemon.child.pid, 'SO_PEERCRED names the daemon');
  const methods = messages(lines).filter((l) => l.kind === 'response').map((l) => l.method);
  assert.deepEqual(methods.filter((m) => m !== 'workspace/configuration'), ['initialize', 'textDocument/hover', 'textDocument/definition', 'shutdown']);
  const end = lines.find((l) => l.msg === 'session end')!;
  assert.equal(end.lsptapExitCode, 0);
  assert.equal(end.unansweredCount, 0);
});

test('--connect: SIGTERM closes the connection, writes session end and exits 143; the daemon lives on', needGopls, async (t) => {
  const { log, daemon, lsptap, conn } = await connectToDaemon(t);
  conn.onRequest(() => null);
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 143, signal: null });
  conn.dispose();
  const end = readLog(log).find((l) => l.msg === 'session end')!;
  assert.equal(end.signal, 'SIGTERM');
  assert.equal(end.reason, 'SIGTERM: lsptap closed the connection');
  assert.equal(end.lsptapExitCode, 143);
  assert.equal(daemon.child.exitCode, null, 'the shared daemon is not stopped');
});

test('--connect is byte-for-byte transparent both ways on a real gopls daemon session', needGopls, async (t) => {
  const dir = tmpDir(t);
  const daemonSock = path.join(dir, 'daemon.sock');
  const teeSock = path.join(dir, 'tee.sock');
  const [inFile, outFile] = [path.join(dir, 'in.bin'), path.join(dir, 'out.bin')];
  await startDaemon(t, daemonSock);
  start(t, process.execPath, [path.join(fixtures, 'socket-tee.js'), teeSock, daemonSock], { env: { ...process.env, IN: inFile, OUT: outFile } });
  await waitFor(() => fs.existsSync(teeSock), 5000, 'tee');
  const lsptap = startLsptap(t, ['--log', path.join(dir, 'log.jsonl'), '--connect', `unix:${teeSock}`]);
  // The client's side of the wire: every byte written to lsptap and read from it.
  const sent: Buffer[] = [];
  const wire = new PassThrough();
  wire.on('data', (c: Buffer) => { sent.push(Buffer.from(c)); lsptap.child.stdin!.write(c); });
  wire.on('end', () => lsptap.child.stdin!.end());
  const received = collect(lsptap.child.stdout!);
  const conn = createMessageConnection(new StreamMessageReader(lsptap.child.stdout!), new StreamMessageWriter(wire));
  conn.listen();
  await fixtureSession(conn);
  wire.end();
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
  conn.dispose();
  const clientSent = Buffer.concat(sent);
  const clientGot = await received;
  const size = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : -1);
  await waitFor(() => size(inFile) === clientSent.length && size(outFile) === clientGot.length, 5000, 'the tee\'s recordings');
  assert.ok(clientSent.length > 1000 && clientGot.length > 1000);
  assert.equal(sha256(fs.readFileSync(inFile)), sha256(clientSent), 'the server side received exactly what the client sent');
  assert.equal(sha256(clientGot), sha256(fs.readFileSync(outFile)), 'the client received exactly what the server sent');
});

test('--connect with kernel timing: the daemon\'s reads and writes on its socket time every response', { skip: realGopls === null ? 'gopls is not installed' : bpfSkipReason() }, async (t) => {
  const { log, daemon, lsptap, conn } = await connectToDaemon(t, ['--bpf=require']);
  await fixtureSession(conn);
  lsptap.child.stdin!.end();
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
  conn.dispose();
  const lines = readLog(log);
  const startLine = lines.find((l) => l.msg === 'session start')!;
  const k = startLine.kernel as { serverFds: number[]; lsptapFds: { toServer: number; fromServer: number } };
  assert.equal(startLine.serverPid, daemon.child.pid);
  assert.equal(k.serverFds[0], k.serverFds[1], 'the daemon reads and writes one socket fd');
  assert.ok(k.serverFds[0] > 2);
  assert.equal(k.lsptapFds.toServer, k.lsptapFds.fromServer);
  for (const m of ['initialize', 'textDocument/hover', 'textDocument/definition']) {
    const r = messages(lines).find((l) => l.kind === 'response' && l.method === m)!;
    const kk = r.kernel as Record<string, number | null>;
    assert.equal(typeof kk.toServerPipeUs, 'number', `${m}: the daemon's read of the request was seen`);
    assert.equal(typeof kk.serverUs, 'number', `${m}: from the daemon's read to its write`);
    assert.equal(typeof kk.toLsptapPipeUs, 'number', `${m}: the daemon's write was seen`);
  }
  const end = lines.find((l) => l.msg === 'session end')!.kernel as Record<string, number>;
  assert.equal(end.strayEvents, 0);
});

test('--listen in front of the daemon: two concurrent gopls -remote editors are both answered, each its own session', needGopls, async (t) => {
  const { sock, log, daemon, lsptap } = await listenInFrontOfDaemon(t);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600, 'the socket lsptap creates is 0600');

  const editors = await twoRemoteEditors(t, `unix;${sock}`);

  await waitFor(() => readLog(log).filter((l) => l.msg === 'session end').length === 2, 10000, 'two session ends');
  lsptap.child.kill('SIGTERM');
  const exit = await lsptap.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, lsptap.stderr());
  assert.equal(fs.existsSync(sock), false, 'the socket file is removed on exit');

  const sessions = sessionsOf(readLog(log));
  assert.equal(sessions.size, 2);
  const pids = new Set<unknown>();
  for (const [id, lines] of sessions) {
    const startLine = lines.find((l) => l.msg === 'session start')!;
    assert.equal(startLine.serverPid, daemon.child.pid, `session ${id} reached the daemon`);
    pids.add(startLine.clientPid);
    const msgs = messages(lines);
    // The forwarder's handshake passes through untouched, first on the wire, and is answered.
    assert.equal(msgs[0].method, 'gopls/handshake');
    assert.ok(msgs.some((l) => l.kind === 'response' && l.method === 'gopls/handshake' && l.isError === false));
    assert.ok(msgs.some((l) => l.kind === 'response' && l.method === 'textDocument/hover'));
    const ends = lines.filter((l) => l.msg === 'session end');
    assert.equal(ends.length, 1, `session ${id} has its own end`);
    assert.ok(Array.isArray(ends[0].summary) && (ends[0].summary as unknown[]).length > 0, `session ${id} has its own summary`);
  }
  assert.deepEqual([...pids].sort(), [...editors.pids].sort(), 'each session names its editor\'s forwarder (SO_PEERCRED)');
});

test('--listen: an editor killed mid-session ends its own session only; the next editor is served', needGopls, async (t) => {
  const { sock, log, daemon, lsptap } = await listenInFrontOfDaemon(t);

  const doomed = start(t, realGopls!, [`-remote=unix;${sock}`], { cwd: goFixture });
  const doomedConn = connect(doomed.child);
  doomedConn.onRequest(() => null);
  await doomedConn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  doomedConn.dispose();
  await waitFor(() => readLog(log).some((l) => l.msg === 'session end'), 10000, 'the killed editor\'s session end');

  const { answers } = await remoteEditorSession(t, `unix;${sock}`);
  assert.match(answers.hover, /Greet\(name string\) string/);
  assert.equal(daemon.child.exitCode, null, 'the daemon is still up');

  await waitFor(() => readLog(log).filter((l) => l.msg === 'session end').length === 2, 10000, 'two session ends');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null });
  const ends = readLog(log).filter((l) => l.msg === 'session end');
  assert.equal(ends[0].reason, 'client closed its end');
  assert.equal(ends[0].lsptapExitCode, 0);
  assert.notEqual(ends[0].session, ends[1].session);
});

test('--listen tcp: and --connect tcp: relay a gopls -remote editor to a TCP daemon', needGopls, async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const daemon = start(t, realGopls!, ['serve', `-listen=127.0.0.1:${port}`], { cwd: goFixture });
  await waitForTcp(port);
  const lsptap = startLsptap(t, ['--log', log, '--listen', 'tcp:127.0.0.1:0', '--connect', `tcp:127.0.0.1:${port}`]);
  await waitFor(() => /listening on tcp:127\.0\.0\.1:\d+/.test(lsptap.stderr()), 10000, 'lsptap listening');
  const ourPort = Number(/listening on tcp:127\.0\.0\.1:(\d+)/.exec(lsptap.stderr())![1]);
  // gopls -remote with no prefix is TCP.
  const { answers, editor } = await remoteEditorSession(t, `127.0.0.1:${ourPort}`);
  assert.match(answers.hover, /Greet\(name string\) string/);
  await waitFor(() => readLog(log).some((l) => l.msg === 'session end' && l.lsptapExitCode === 0), 10000, 'session end');
  lsptap.child.kill('SIGINT');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null });
  const startLine = readLog(log).find((l) => l.msg === 'session start')!;
  assert.equal(startLine.address, `tcp:127.0.0.1:${port}`);
  assert.equal(startLine.serverPid, daemon.child.pid, '/proc/net/tcp names the daemon');
  assert.equal(startLine.clientPid, editor.child.pid, '/proc/net/tcp names the editor side');
});

test('--connect to a socket nobody listens on says so in one line and exits 1', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'dead.sock');
  // A socket file left behind by a dead server: bind, then drop the listener without unlinking.
  const s = net.createServer().listen(sock);
  await new Promise((r) => s.once('listening', r));
  const copy = path.join(dir, 'stale.sock');
  fs.linkSync(sock, copy);
  await new Promise((r) => s.close(r));
  const lsptap = startLsptap(t, ['--log', path.join(dir, 'log.jsonl'), '--connect', `unix:${copy}`]);
  const exit = await lsptap.exited;
  assert.deepEqual(exit, { code: 1, signal: null });
  assert.equal(lsptap.stderr(), `lsptap: cannot connect to unix:${copy}: nobody is listening on it (a stale socket?); start the server or remove the file\n`);
});

test('--connect to a path that is not a socket, or not there, says so in one line and exits 1', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'plain.txt');
  fs.writeFileSync(file, 'x');
  const a = startLsptap(t, ['--log', path.join(dir, 'a.jsonl'), '--connect', `unix:${file}`]);
  assert.deepEqual(await a.exited, { code: 1, signal: null });
  assert.equal(a.stderr(), `lsptap: cannot connect to unix:${file}: it is not a socket (a regular file or other); give the server's socket path\n`);
  const b = startLsptap(t, ['--log', path.join(dir, 'b.jsonl'), '--connect', `unix:${dir}/none.sock`]);
  assert.deepEqual(await b.exited, { code: 1, signal: null });
  assert.match(b.stderr(), /^lsptap: cannot connect to unix:.*none\.sock: no such socket; is the server listening \(e\.g\. gopls serve -listen='unix;.*none\.sock'\)\?\n$/);
});

test('--listen refuses a path that exists and leaves it alone', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'taken');
  fs.writeFileSync(file, 'someone else\'s');
  const lsptap = startLsptap(t, ['--log', path.join(dir, 'log.jsonl'), '--listen', `unix:${file}`, '--connect', `unix:${dir}/d.sock`]);
  assert.deepEqual(await lsptap.exited, { code: 1, signal: null });
  assert.equal(lsptap.stderr(), `lsptap: cannot listen on unix:${file}: the path exists and is not a socket; choose another path\n`);
  assert.equal(fs.readFileSync(file, 'utf8'), 'someone else\'s');

  const live = net.createServer().listen(path.join(dir, 'live.sock'));
  t.after(() => live.close());
  await new Promise((r) => live.once('listening', r));
  const second = startLsptap(t, ['--log', path.join(dir, 'log2.jsonl'), '--listen', `unix:${dir}/live.sock`, '--connect', `unix:${dir}/d.sock`]);
  assert.deepEqual(await second.exited, { code: 1, signal: null });
  assert.match(second.stderr(), /something is already listening there; choose another path\n$/);
  assert.ok(fs.statSync(path.join(dir, 'live.sock')).isSocket());
});

test('--listen survives editors that connect and vanish at once, each accounted for in the log', async (t) => {
  const dir = tmpDir(t);
  const upstreamSock = path.join(dir, 'up.sock');
  const sock = path.join(dir, 'lsptap.sock');
  const log = path.join(dir, 'log.jsonl');
  const upstream = start(t, process.execPath, [path.join(fixtures, 'cut-socket-server.js'), upstreamSock]);
  await waitFor(() => fs.existsSync(upstreamSock), 5000, 'upstream');
  const lsptap = startLsptap(t, ['--log', log, '--listen', `unix:${sock}`, '--connect', `unix:${upstreamSock}`, '--bpf', 'off']);
  await waitFor(() => lsptap.stderr().includes('listening on'), 10000, 'lsptap listening');
  const n = 20;
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
    const c = net.connect({ path: sock });
    c.once('connect', () => { c.destroy(); resolve(); });
    c.once('error', () => resolve());
  })));
  const accounted = (): number => readLog(log).filter((l) => l.msg === 'session end' || l.msg === 'client gone before the server connection was up').length;
  await waitFor(() => accounted() === n, 10000, `${n} sessions accounted for`);
  assert.equal(lsptap.child.exitCode, null, 'still listening');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
  upstream.child.kill('SIGTERM');
});

test('a server that closes the connection mid-message gets an error line naming it, and exit code 1', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'cut.sock');
  const log = path.join(dir, 'log.jsonl');
  const server = start(t, process.execPath, [path.join(fixtures, 'cut-socket-server.js'), sock]);
  await waitFor(() => fs.existsSync(sock), 5000, 'cut server');
  const lsptap = startLsptap(t, ['--log', log, '--connect', `unix:${sock}`]);
  const body = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}';
  lsptap.child.stdin!.write(`Content-Length: ${body.length}\r\n\r\n${body}`);
  const out: Buffer[] = [];
  lsptap.child.stdout!.on('data', (c: Buffer) => out.push(c));
  const exit = await lsptap.exited;
  server.child.kill('SIGTERM');
  assert.deepEqual(exit, { code: 1, signal: null });
  assert.equal(Buffer.concat(out).toString(), 'Content-Length: 100\r\n\r\n{"jsonrpc"', 'the bytes that came are still relayed');
  const lines = readLog(log);
  const err = lines.find((l) => l.level === 50)!;
  assert.equal(err.msg, 'server closed the connection mid-message');
  const warn = lines.find((l) => l.msg === 'bad input')!;
  assert.equal(warn.dir, 's2c');
  assert.equal(warn.offset, 0);
  const end = lines.find((l) => l.msg === 'session end')!;
  assert.equal(end.reason, 'server closed the connection mid-message');
  assert.equal(end.lsptapExitCode, 1);
});

test('--listen: a SIGTERM that comes just after "listening on" is printed still stops it cleanly (exit 0, socket removed)', skipUnless(missingUnless('strace', which('strace') !== null)), async (t) => {
  // strace (without -f: the main thread only) holds each of the main thread's writes for
  // 300 ms after it returns, so the signal lands right after the "listening on" write, the
  // moment a supervisor that waits for that line would stop us.
  const dir = tmpDir(t);
  const sock = path.join(dir, 'l.sock');
  const traced = start(t, 'strace', ['-qq', '-o', '/dev/null', '-e', 'trace=write', '-e', 'inject=write:delay_exit=300ms',
    process.execPath, lsptapBin, '--log', path.join(dir, 'log.jsonl'), '--bpf=off', '--listen', `unix:${sock}`, '--connect', `unix:${dir}/d.sock`]);
  await waitFor(() => traced.stderr().includes('listening on'), 60_000, 'lsptap listening');
  const node = Number(fs.readFileSync(`/proc/${traced.child.pid}/task/${traced.child.pid}/children`, 'utf8').trim().split(' ')[0]);
  process.kill(node, 'SIGTERM');
  assert.deepEqual(await traced.exited, { code: 0, signal: null }, traced.stderr());
  assert.equal(fs.existsSync(sock), false, 'the socket file is removed');
});
