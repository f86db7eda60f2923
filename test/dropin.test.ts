// lsptap standing in for gopls: the gopls-named shim and VS Code's go.alternateTools. Each
// command line vscode-go runs (extension/src/language/goLanguageServer.ts getLocalGoplsVersion
// and buildLanguageClient, goVulncheck.ts writeVulns) is run against the real gopls and
// against lsptap in its place; output and exit codes must match byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyGoplsArgs } from '../src/dropin/command-line';
import { isGoplsCommandLine } from '../src/dropin/command-line';
import { connect, goFixture, lsptapBin, messages, readLog, sessionLogs, start, tmpDir, waitFor, type LogLine } from './helpers/index';
import { fixtureSession, makeShimDir, realGopls } from './helpers/dropin';
import { missingUnless, skipUnless } from './helpers/capabilities';

const needGopls = skipUnless(missingUnless('gopls', realGopls !== null));

test('classifies gopls command lines as sessions or plain commands the way gopls parses its flags', () => {
  const cases: Array<[string[], boolean]> = [
    [[], true],
    [['serve'], true],
    [['-rpc.trace'], true],
    [['-remote=unix;/tmp/x'], true],
    [['-remote', 'auto', '-logfile', '/tmp/l'], true],
    [['-v', 'serve', '-rpc.trace'], true],
    [['--mode=stdio'], true],
    [['version', '-json'], false],
    [['version'], false],
    [['vulncheck', '--', '-mode=convert', '-show=color'], false],
    [['help'], false],
    [['-h'], false],
    [['serve', '-h'], false],
    [['serve', '-listen=unix;/tmp/d'], false],
    [['-listen', 'localhost:1234'], false],
    [['-remote', 'version'], true], // "version" is -remote's value here, as in Go's flag package
  ];
  for (const [args, session] of cases) assert.equal(classifyGoplsArgs(args).session, session, JSON.stringify(args));
});

test('tells lsptap\'s own command lines from gopls\'s, as go.alternateTools passes them to lsptap', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['lsptap', [], true],
    ['lsptap', ['version', '-json'], true],
    ['lsptap', ['vulncheck', '--', '-mode=convert', '-show=color'], true],
    ['lsptap', ['-rpc.trace'], true],
    ['lsptap', ['--remote=auto'], true],
    ['lsptap', ['-v'], true],
    ['lsptap', ['--', 'gopls'], false],
    ['lsptap', ['--log', 'x', '--', 'gopls'], false],
    ['lsptap', ['--log=x', '--', 'gopls'], false],
    ['lsptap', ['--connect', 'unix:/x'], false],
    ['lsptap', ['--no-such-flag', '--', 'true'], false],
    ['lsptap', ['demo'], false],
    ['lsptap', ['install-shim', '/tmp/x'], false],
    ['lsptap', ['--version'], false],
    ['gopls', ['--version'], true],
    ['gopls', ['demo'], true],
  ];
  for (const [name, argv, gopls] of cases) assert.equal(isGoplsCommandLine(name, argv), gopls, `${name} ${argv.join(' ')}`);
});

test('lsptap --server PATH -- ARGS stands in for that gopls', needGopls, (t) => {
  const dir = tmpDir(t);
  const env = { ...process.env, LSPTAP_LOG_DIR: path.join(dir, 'logs') };
  assert.deepEqual(run(process.execPath, [lsptapBin, '--server', realGopls!, '--', 'version'], env), run(realGopls!, ['version'], env));
});

interface Outcome { stdout: string; stderr: string; status: number | null }

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Outcome {
  const r = spawnSync(cmd, args, { cwd: goFixture, env, input: input ?? '', encoding: 'utf8', timeout: 60000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

// The vulncheck conversion input as writeVulns sends it: JSON objects back to back.
const VULN_INPUT = `${JSON.stringify({ osv: { id: 'GO-2000-0001', summary: 'test' } })}${JSON.stringify({ finding: { osv: 'GO-2000-0001', trace: [{ module: 'example.com/lsptapfixture' }] } })}`;

const VSCODE_COMMANDS: Array<{ name: string; args: string[]; input?: string }> = [
  { name: 'version -json', args: ['version', '-json'] },
  { name: 'version', args: ['version'] },
  { name: 'vulncheck -- -mode=convert -show=color', args: ['vulncheck', '--', '-mode=convert', '-show=color'], input: VULN_INPUT },
];

test('each command vscode-go runs gives gopls\'s own output and exit code through the shim and through lsptap in go.alternateTools', needGopls, (t) => {
  const dir = tmpDir(t);
  const shim = path.join(makeShimDir(path.join(dir, 'shim')), 'gopls');
  const logDir = path.join(dir, 'logs');
  const env = { ...process.env, LSPTAP_LOG_DIR: logDir };
  for (const c of VSCODE_COMMANDS) {
    const want = run(realGopls!, c.args, env, c.input);
    for (const stand of [shim, lsptapBin]) {
      const got = run(stand, c.args, env, c.input);
      assert.deepEqual(got, want, `${path.basename(stand)} ${c.name}`);
    }
    // ...and by name, with the shim first on PATH.
    const byName = run('gopls', c.args, { ...env, PATH: `${path.dirname(shim)}:${process.env.PATH}` }, c.input);
    assert.deepEqual(byName, want, `gopls ${c.name} by name`);
  }
  assert.equal(fs.existsSync(logDir) ? fs.readdirSync(logDir).length : 0, 0, 'plain commands write no log');
});

async function sessionThrough(t: Parameters<typeof start>[0], cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ lines: LogLine[]; answers: Awaited<ReturnType<typeof fixtureSession>>; stderr: string }> {
  const p = start(t, cmd, args, { cwd: goFixture, env });
  const conn = connect(p.child);
  const answers = await fixtureSession(conn);
  p.child.stdin!.end();
  const exit = await p.exited;
  conn.dispose();
  assert.deepEqual(exit, { code: 0, signal: null }, p.stderr());
  const logDir = env.LSPTAP_LOG_DIR!;
  const files = sessionLogs(logDir);
  assert.equal(files.length, 1, 'one log file for the session');
  return { lines: readLog(path.join(logDir, files[0])), answers, stderr: p.stderr() };
}

function assertLoggedSession(lines: LogLine[], args: string[]): void {
  const startLine = lines.find((l) => l.msg === 'session start')!;
  assert.deepEqual(startLine.command, [realGopls, ...args], 'the real gopls, every argument unchanged');
  assert.equal(startLine.cwd, goFixture, 'the workspace is the working directory');
  const responses = messages(lines).filter((l) => l.dir === 's2c' && l.kind === 'response').map((l) => l.method);
  for (const m of ['initialize', 'textDocument/hover', 'textDocument/definition', 'shutdown']) assert.ok(responses.includes(m), m);
  assert.equal(lines.filter((l) => l.msg === 'session end').length, 1);
}

test('an editor that starts gopls by name gets the shim first on PATH: a session with no arguments, workspace as cwd, relayed and logged', needGopls, async (t) => {
  const dir = tmpDir(t);
  const shimDir = makeShimDir(path.join(dir, 'shim'));
  const env = { ...process.env, PATH: `${shimDir}:${process.env.PATH}`, LSPTAP_LOG_DIR: path.join(dir, 'logs') };
  const { lines, answers } = await sessionThrough(t, 'gopls', [], env);
  assert.match(answers.hover, /Greet\(name string\) string/);
  assert.match(answers.definitionUri, /shout\.go$/);
  assertLoggedSession(lines, []);
  const startLine = lines.find((l) => l.msg === 'session start')!;
  assert.equal(startLine.invokedAs, 'gopls');
  assert.equal(startLine.serverFoundVia, 'PATH');
  // Kernel timing attaches as in `lsptap -- gopls`: on where it loads, else one warn saying why.
  const kernelOn = startLine.kernel !== undefined;
  assert.ok(kernelOn || lines.some((l) => l.msg === 'kernel timing off'), 'kernel timing on, or a line saying why not');
  // The first messages go while the probes load: from the offsets `kernel timing on` names, all
  // have kernel fields. A session over before they watched (a loaded machine) has none.
  if (kernelOn) {
    const on = lines.find((l) => l.msg === 'kernel timing on');
    const from: Record<string, number> = on === undefined ? { c2s: Infinity, s2c: Infinity } : { c2s: on.c2sOffset as number, s2c: on.s2cOffset as number };
    for (const l of messages(lines)) {
      if ((l.offset as number) >= from[l.dir as string]) assert.equal(typeof l.kernel, 'object', `${String(l.dir)} ${String(l.method)} at ${String(l.offset)}`);
      else if (on === undefined) assert.equal(l.kernel, undefined, `${String(l.dir)} ${String(l.method)}: no kernel fields before the probes watched`);
    }
  }
});

test('go.alternateTools pointing at bin/lsptap itself, with languageServerFlags, starts a logged session', needGopls, async (t) => {
  const dir = tmpDir(t);
  const env = { ...process.env, LSPTAP_LOG_DIR: path.join(dir, 'logs') };
  const { lines, stderr } = await sessionThrough(t, lsptapBin, ['-rpc.trace'], env);
  assertLoggedSession(lines, ['-rpc.trace']);
  assert.match(stderr, /Sending request 'initialize/, 'gopls got -rpc.trace and wrote its trace to stderr');
});

test('finds the real gopls past two shims on PATH and never starts itself', needGopls, (t) => {
  const dir = tmpDir(t);
  const a = makeShimDir(path.join(dir, 'a'));
  const b = makeShimDir(path.join(dir, 'b'));
  const env = { ...process.env, PATH: `${a}:${b}:${process.env.PATH}` };
  const want = run(realGopls!, ['version'], env);
  assert.deepEqual(run('gopls', ['version'], env), want);
});

test('a wrapper on PATH that leads back to lsptap stops with a loop error instead of starting itself forever', (t) => {
  const dir = tmpDir(t);
  const wrapDir = path.join(dir, 'wrap');
  fs.mkdirSync(wrapDir);
  fs.writeFileSync(path.join(wrapDir, 'gopls'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(lsptapBin)} "$@"\n`, { mode: 0o755 });
  const got = run('gopls', ['version'], { ...process.env, PATH: `${wrapDir}:${process.env.PATH}` });
  assert.equal(got.status, 127);
  assert.match(got.stderr, /^lsptap: loop: the gopls lsptap started led back to lsptap \(LSPTAP_SHIM_CHAIN=.*\); set LSPTAP_SERVER=\/path\/to\/the\/real\/gopls\n$/);
});

test('LSPTAP_SERVER chooses the server and gets every argument unchanged; pointing it at the shim is refused', (t) => {
  const dir = tmpDir(t);
  const fake = path.join(dir, 'fake-gopls');
  fs.writeFileSync(fake, '#!/bin/sh\nprintf "%s|" "$@"\nexit 3\n', { mode: 0o755 });
  const shim = path.join(makeShimDir(path.join(dir, 'shim')), 'gopls');
  const got = run(shim, ['version', '-json', 'a b'], { ...process.env, LSPTAP_SERVER: fake });
  assert.deepEqual(got, { stdout: 'version|-json|a b|', stderr: '', status: 3 });
  const self = run(shim, ['version'], { ...process.env, LSPTAP_SERVER: shim });
  assert.equal(self.status, 127);
  assert.equal(self.stderr, `lsptap: LSPTAP_SERVER ${shim} is lsptap itself (or its shim); point it at the real gopls\n`);
});

test('install-shim makes DIR/gopls a link to lsptap, is idempotent, and never replaces another file', (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'bin');
  const first = run(process.execPath, [lsptapBin, 'install-shim', target], process.env);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(fs.realpathSync(path.join(target, 'gopls')), fs.realpathSync(lsptapBin));
  assert.match(first.stdout, /"go\.alternateTools": \{ "gopls": ".*\/bin\/gopls" \}/);
  assert.equal(run(process.execPath, [lsptapBin, 'install-shim', target], process.env).status, 0);
  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'gopls'), 'not ours');
  const refused = run(process.execPath, [lsptapBin, 'install-shim', other], process.env);
  assert.equal(refused.status, 2);
  assert.equal(refused.stderr, `lsptap: ${path.join(other, 'gopls')} already exists and is not lsptap's shim; remove it or choose another directory\n`);
  assert.equal(fs.readFileSync(path.join(other, 'gopls'), 'utf8'), 'not ours');
});

test('the log is complete when the editor SIGKILLs the whole process tree after exit, as vscode-go does when gopls hangs', needGopls, async (t) => {
  const dir = tmpDir(t);
  const shimDir = makeShimDir(path.join(dir, 'shim'));
  const logDir = path.join(dir, 'logs');
  const p = start(t, path.join(shimDir, 'gopls'), [], { cwd: goFixture, env: { ...process.env, LSPTAP_LOG_DIR: logDir } });
  const childrenFile = `/proc/${p.child.pid}/task/${p.child.pid}/children`;
  // lsptap's children named gopls (kernel timing may run short-lived helpers too).
  const goplsChildren = (): number[] => fs.readFileSync(childrenFile, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    .filter((pid) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'gopls'; } catch { return false; } });
  await waitFor(() => goplsChildren().length > 0, 5000, 'gopls started');
  const children = goplsChildren();
  t.after(() => { for (const pid of children) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } });
  const conn = connect(p.child);
  // gopls hangs after answering shutdown (stopped), so lsptap is still there when the kill comes.
  // A group stop takes effect thread by thread, as each runs: exit is sent only once every
  // thread of gopls is stopped, or one still running could read it and exit gopls first.
  await fixtureSession(conn, goFixture, () => {
    for (const pid of children) process.kill(pid, 'SIGSTOP');
    const stopped = (pid: number): boolean => fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
      try { return /^\S+ \(.*\) [tT]/.test(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')); } catch { return true; }
    });
    const until = Date.now() + 5000;
    while (!children.every(stopped)) {
      assert.ok(Date.now() < until, 'gopls stopped within 5 s');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  });
  // vscode-go kills 2 s after asking to stop; the log needs milliseconds (kernel timing
  // passes held records on at `exit`).
  await new Promise((r) => setTimeout(r, 200));
  for (const pid of [p.child.pid!, ...children]) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  await p.exited;
  conn.dispose();
  const file = path.join(logDir, sessionLogs(logDir)[0]);
  assert.equal(p.child.signalCode, 'SIGKILL', 'lsptap was still running when the kill came');
  const lines = readLog(file);
  const c2s = messages(lines).filter((l) => l.dir === 'c2s').map((l) => l.method);
  assert.deepEqual(c2s.filter((m) => m !== 'workspace/configuration'), ['initialize', 'initialized', 'textDocument/didOpen', 'textDocument/hover', 'textDocument/definition', 'shutdown', 'exit']);
  assert.equal(lines.find((l) => l.msg === 'summary')!.trigger, 'exit notification');
});

test('lsptap with no arguments at a terminal prints its usage rather than starting gopls', (t) => {
  // `script` gives lsptap a terminal on stdin, as a person typing `lsptap` would have.
  const script = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).stdout.trim();
  if (script === '' && process.env.CI !== 'true') { t.skip('script(1) (bsdutils) is not installed'); return; }
  const r = spawnSync(script, ['-qec', `${process.execPath} ${lsptapBin}`, '/dev/null'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stdout, /usage: lsptap/);
});

test('standing in for gopls, an unusable log directory does not stop the server: it runs plainly, one stderr line says why', (t) => {
  const dir = tmpDir(t);
  const fake = path.join(dir, 'fake-gopls');
  fs.writeFileSync(fake, '#!/bin/sh\nprintf "%s|" "$@"\ncat\nexit 3\n', { mode: 0o755 });
  const shim = path.join(makeShimDir(path.join(dir, 'shim')), 'gopls');
  const homeIsAFile = path.join(dir, 'home-file');
  fs.writeFileSync(homeIsAFile, '');
  const env: NodeJS.ProcessEnv = { ...process.env, LSPTAP_SERVER: fake, HOME: homeIsAFile };
  delete env.XDG_STATE_HOME; delete env.LSPTAP_LOG_DIR; delete env.LSPTAP_LOG;
  const roots: NodeJS.ProcessEnv[] = [env];
  if (process.getuid?.() === 0) {
    // A read-only disk (root bypasses permission bits, not a read-only mount).
    const ro = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]);
    t.after(() => {
      try { execFileSync('umount', ['-l', ro]); } catch { /* gone */ }
      fs.rmSync(ro, { recursive: true, force: true });
    });
    roots.push({ ...env, HOME: process.env.HOME, XDG_STATE_HOME: ro });
  }
  for (const e of roots) {
    for (const args of [[], ['serve', '-rpc.trace']]) {
      const got = run(shim, args, e, 'hello');
      assert.equal(got.status, 3, got.stderr);
      assert.equal(got.stdout, `${args.length === 0 ? '|' : args.map((a) => `${a}|`).join('')}hello`, 'printf prints one | with no arguments');
      const lines = got.stderr.split('\n').filter((l) => l.length > 0);
      assert.equal(lines.length, 1, got.stderr);
      assert.match(lines[0], /^lsptap: cannot create log directory .*: E[A-Z]+: .*; starting .*fake-gopls without lsptap in between \(this session is not logged\)$/);
    }
  }
  // An explicit --log on lsptap's own command line is still a usage error.
  const explicit = run(process.execPath, [lsptapBin, '--server', fake, '--log', path.join(homeIsAFile, 'x.jsonl')], env, 'hello');
  assert.equal(explicit.status, 2, explicit.stderr);
});
