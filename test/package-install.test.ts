// The npm package as a user gets it: `npm pack`, then `npm install -g` of the tarball into a
// fresh prefix with a PATH that holds no compiler (no clang, gcc or bpftool), then a real
// gopls session through the installed `lsptap` with kernel timing on. `npm test` has built
// dist/ and the BPF objects just before (prepack would build them again), so the pack
// here skips scripts; `npm pack` on its own runs prepack (build + scripts/check-package.sh).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification, DocumentSymbolRequest } from 'vscode-languageserver-protocol/node';
import { answerServerRequests } from '../src/demo/gopls-script';
import { readLog, fixtures, type LogLine, repoRoot } from './helpers/index';
import { bpfSkipReason, startSession, endSession, kernelOf } from './helpers/kernel';

const MODULE = path.join(fixtures, 'gomod-kernel');
/** Tools the test itself runs, found on the test's PATH (the install PATH lacks them). */
const which = (cmd: string): string => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const VERSION = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

function toolSkip(): string | false {
  const missing = ['gopls', 'go', 'npm'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length === 0) return false;
  assert.ok(process.env.CI !== 'true', `CI=true: ${missing.join(', ')} must be installed (scripts/setup.sh)`);
  return `${missing.join(', ')} not installed (scripts/setup.sh installs them)`;
}

const skip = bpfSkipReason() || toolSkip();

/** A directory with only what a user's PATH needs here: node, npm, gopls, go, sh, and ss
 * (iproute2, in every Debian install: finds the editor across a socketpair). */
function bareToolDir(root: string): string {
  const dir = path.join(root, 'tools');
  fs.mkdirSync(dir);
  for (const tool of ['node', 'npm', 'gopls', 'go', 'sh', 'env', 'ss']) {
    const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    fs.symlinkSync(fs.realpathSync(real), path.join(dir, tool));
  }
  return dir;
}

interface Installed { prefix: string; bin: string; pkgDir: string; env: NodeJS.ProcessEnv; tarballBytes: number; installMs: number }

let installed: Installed | null = null;

/** Pack and install once for the whole file (each step is a real npm run). */
function install(root: string): Installed {
  if (installed !== null) return installed;
  assert.ok(fs.existsSync(path.join(repoRoot, 'bpf', '.output', 'lsptap.bpf.o')), 'lsptap.bpf.o not built (npm run build)');
  // What `npm pack` runs after its build (prepack): it refused every tree once the BPF parts were linked into one object.
  const check = spawnSync('bash', [path.join(repoRoot, 'scripts', 'check-package.sh')], { encoding: 'utf8' });
  assert.equal(check.status, 0, `prepack's check refused a built tree: ${check.stderr}`);
  const packOut = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const packed = (JSON.parse(packOut) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>)[0];
  const files = packed.files.map((f) => f.path);
  for (const want of ['bin/lsptap', 'dist/src/entry.js', 'bpf/.output/lsptap.bpf.o', 'bpf/.output/lsptap.loader.json', 'bpf/.output/lsptap-profile.bpf.o', 'bpf/.output/lsptap-profile.loader.json', 'package.json']) assert.ok(files.includes(want), `${want} is in the tarball`);
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.endsWith('.map') || f.startsWith('bpf/.output/parts/')), 'no tests, sources, source maps or unlinked BPF parts in the tarball');
  const tarball = path.join(root, packed.filename);
  assert.equal(packed.filename, `lsptap-${VERSION}.tgz`);

  const prefix = path.join(root, 'prefix');
  const tools = bareToolDir(root);
  // The user's environment (npm's proxy and CA settings) with only PATH replaced.
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: [path.join(prefix, 'bin'), tools].join(path.delimiter) };
  const noCompiler = spawnSync('sh', ['-c', 'command -v clang || command -v gcc || command -v cc || command -v bpftool'], { env, encoding: 'utf8' });
  assert.notEqual(noCompiler.status, 0, `the install PATH has a compiler: ${noCompiler.stdout}`);
  const t0 = process.hrtime.bigint();
  // --prefer-offline: the dependencies come from npm's cache when `npm ci` put them there.
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  const installMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const pkgDir = path.join(prefix, 'lib', 'node_modules', 'lsptap');
  // Readable by a user without root (the setcap test runs as nobody).
  for (let d = pkgDir; d.startsWith(root); d = path.dirname(d)) fs.chmodSync(d, 0o755);
  installed = { prefix, bin: path.join(prefix, 'bin', 'lsptap'), pkgDir, env, tarballBytes: packed.size, installMs };
  return installed;
}

let root: string | null = null;
function workDir(): string {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-pkg-'));
  return root;
}

test.after(() => { if (root !== null) fs.rmSync(root, { recursive: true, force: true }); });

/** initialize, open a file, ask for its symbols, shut down: a real gopls session. */
async function goplsSession(t: Parameters<typeof startSession>[0], lsptap: string[], env: NodeJS.ProcessEnv, log: string, bpf = 'require'): Promise<{ code: number | null; stderr: string; lines: LogLine[] }> {
  const run = await startSession(t, ['--log', log, `--bpf=${bpf}`], { lsptap, server: ['gopls'], cwd: MODULE, env });
  answerServerRequests(run.conn);
  const rootUri = pathToFileURL(MODULE).href;
  await run.conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri, workspaceFolders: [{ uri: rootUri, name: 'fixture' }], capabilities: { workspace: { configuration: true } } });
  await run.conn.sendNotification(InitializedNotification.type, {});
  const file = path.join(MODULE, 'shapes', 'shapes.go');
  const uri = pathToFileURL(file).href;
  await run.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'go', version: 1, text: fs.readFileSync(file, 'utf8') } });
  const symbols = await run.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } });
  assert.ok(Array.isArray(symbols) && symbols.length > 0, `documentSymbol: ${JSON.stringify(symbols)}`);
  const end = await endSession(run);
  return { code: end.code, stderr: end.stderr, lines: readLog(log) };
}

/** editorSeen: the editor (this test, root) is visible to lsptap's `ss -p`; not so when lsptap runs as nobody. */
function assertKernelTimed(lines: LogLine[], editorSeen = true): void {
  const start = lines.find((l) => l.msg === 'session start');
  assert.ok(start !== undefined && start.kernel !== undefined, 'session start carries the probes');
  const line = lines.find((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/documentSymbol');
  assert.ok(line !== undefined, 'the documentSymbol response is logged');
  const k = kernelOf(line);
  for (const field of ['serverUs', 'toServerPipeUs', ...(editorSeen ? ['toEditorPipeUs'] : [])]) assert.equal(typeof k[field], 'number', `${field} on ${JSON.stringify(line)}`);
}

test('the packed tarball installs with npm install -g into a prefix whose PATH has no compiler, and its lsptap --version is the package version', { skip, timeout: 240_000 }, (t) => {
  const inst = install(workDir());
  t.diagnostic(`tarball ${(inst.tarballBytes / 1024).toFixed(1)} KiB, npm install -g took ${Math.round(inst.installMs)} ms`);
  assert.ok(fs.existsSync(inst.bin), `${inst.bin} exists`);
  const version = execFileSync(inst.bin, ['--version'], { env: inst.env, encoding: 'utf8' });
  assert.equal(version, `lsptap ${VERSION}\n`);
});

/** man(1) is man-db's (scripts/setup.sh installs it); under CI=true it must be there. */
function manSkip(): string | false {
  if (spawnSync('sh', ['-c', 'command -v man']).status === 0) return false;
  assert.ok(process.env.CI !== 'true', 'CI=true: man must be installed (man-db, scripts/setup.sh)');
  return 'man (man-db) is not installed (scripts/setup.sh installs it)';
}

test('npm install -g installs lsptap(1): man finds it under the prefix, and it names every option of every command\'s --help', { skip: skip || manSkip(), timeout: 240_000 }, () => {
  const inst = install(workDir());
  const manDir = path.join(inst.prefix, 'share', 'man');
  // man runs with the test's PATH (its formatters: tbl, nroff, col), the page from the prefix only.
  const env = { ...process.env, LC_ALL: 'C.UTF-8', MANWIDTH: '200', MANPAGER: 'cat', PAGER: 'cat' };
  const page = execFileSync(which('man'), ['-M', manDir, 'lsptap'], { env, encoding: 'utf8' });
  assert.match(page, /^LSPTAP\(1\)/);
  const help = (args: string[]): string => execFileSync(inst.bin, [...args, '--help'], { env: inst.env, encoding: 'utf8' });
  const commands = ['', ...new Set([...help([]).matchAll(/^(?:usage:| ) +lsptap ([a-z][a-z-]*)\b/gm)].map((m) => m[1]))];
  assert.ok(commands.length > 5, `lsptap --help lists its subcommands: ${commands.join(' ')}`);
  for (const command of commands) {
    const section = command === '' ? page : page.slice(page.indexOf(`LSPTAP ${command.toUpperCase()}`));
    assert.ok(command === '' || section.length < page.length, `the page has a section for lsptap ${command}`);
    for (const [, option] of help(command === '' ? [] : [command]).matchAll(/^ {2}(--[a-z][a-z-]*)/gm)) {
      assert.match(section, new RegExp(`^ +${option}\\b`, 'm'), `lsptap(1) lists ${option} of lsptap ${command}`);
    }
  }
});

test('the installed lsptap runs a real gopls session with kernel timing on (--bpf=require)', { skip, timeout: 240_000 }, async (t) => {
  const inst = install(workDir());
  const log = path.join(workDir(), 'session.jsonl');
  const res = await goplsSession(t, [inst.bin], inst.env, log);
  assert.equal(res.code, 0, res.stderr);
  assertKernelTimed(res.lines);
  const start = res.lines.find((l) => l.msg === 'session start');
  assert.equal(start?.version, VERSION);
  // The packed light skeleton is found and used from the installed layout.
  assert.equal((start?.kernel as { loader?: string } | undefined)?.loader, 'light', JSON.stringify(start?.kernel));
});

test('lsptap install-shim from the installed layout makes a gopls shim that wraps the real gopls', { skip, timeout: 120_000 }, (t) => {
  const inst = install(workDir());
  const shimDir = path.join(workDir(), 'shim');
  const out = execFileSync(inst.bin, ['install-shim', shimDir], { env: inst.env, encoding: 'utf8' });
  const shim = path.join(shimDir, 'gopls');
  assert.equal(fs.realpathSync(shim), fs.realpathSync(path.join(inst.pkgDir, 'bin', 'lsptap')), 'the shim points into the installed package');
  const wraps = /it will wrap (\S+) /.exec(out);
  assert.ok(wraps !== null, out);
  assert.equal(fs.realpathSync(wraps[1]), fs.realpathSync(execFileSync('sh', ['-c', 'command -v gopls'], { encoding: 'utf8' }).trim()), 'it wraps the real gopls');
  const direct = execFileSync('gopls', ['version'], { env: inst.env, encoding: 'utf8' });
  const viaShim = execFileSync(shim, ['version'], { env: { ...inst.env, PATH: `${shimDir}${path.delimiter}${inst.env.PATH}` }, encoding: 'utf8' });
  assert.equal(viaShim, direct, 'gopls version through the shim prints what gopls prints');
  t.diagnostic(out.trim());
});

test('libbpf missing: the installed lsptap relays a gopls session with kernel timing off and one warn line naming libbpf1', { skip: skip || unshareSkip(), timeout: 120_000 }, async (t) => {
  const inst = install(workDir());
  const log = path.join(workDir(), 'no-libbpf.jsonl');
  const lib = fs.realpathSync('/usr/lib/x86_64-linux-gnu/libbpf.so.1');
  // A private mount namespace where libbpf.so.1 is an empty file: dlopen fails as on a machine without it.
  const hide = [which('unshare'), '-m', '--propagation', 'private', 'sh', '-c', `${which('mount')} --bind /dev/null ${lib} && exec "$@"`, 'sh'];
  const res = await goplsSession(t, [...hide, inst.bin], inst.env, log, 'auto');
  assert.equal(res.code, 0, res.stderr);
  const off = res.lines.filter((l) => l.msg === 'kernel timing off');
  assert.equal(off.length, 1);
  assert.match(String(off[0].reason), /libbpf\.so\.1.*install libbpf1/);
  assert.ok(res.lines.some((l) => l.msg === 'message' && l.method === 'textDocument/documentSymbol' && l.kind === 'response' && l.kernel === undefined), 'messages are logged, without kernel fields');
});

test('the setcap advice works on the installed layout: a copy of node with cap_bpf,cap_perfmon runs the installed lsptap with kernel timing as nobody', { skip: skip || nobodySkip(), timeout: 240_000 }, async (t) => {
  const inst = install(workDir());
  const refused = spawnSync(which(NOBODY[0]), [...NOBODY.slice(1), inst.bin, '--log', '/dev/null', '--bpf=require', '--', 'true'], { env: inst.env, encoding: 'utf8', input: '' });
  assert.equal(refused.status, 1, refused.stderr);
  const advised = /start lsptap as ~\/node-bpf (\S+)/.exec(refused.stderr);
  assert.ok(advised !== null, `advice in ${refused.stderr}`);
  assert.equal(fs.realpathSync(advised[1]), fs.realpathSync(path.join(inst.pkgDir, 'bin', 'lsptap')), 'the advice names the installed entry point');
  const home = path.join(workDir(), 'nobody-home');
  fs.mkdirSync(home, { mode: 0o777 });
  fs.chmodSync(home, 0o777);
  const nodeCopy = path.join(home, 'node-bpf');
  fs.copyFileSync(process.execPath, nodeCopy);
  fs.chmodSync(nodeCopy, 0o755);
  execFileSync('setcap', ['cap_bpf,cap_perfmon+ep', nodeCopy]);
  const log = path.join(home, 'session.jsonl');
  const res = await goplsSession(t, [which(NOBODY[0]), ...NOBODY.slice(1), nodeCopy, advised[1]], { ...inst.env, HOME: home, GOCACHE: path.join(home, 'gocache'), GOPATH: path.join(home, 'go') }, log);
  assert.equal(res.code, 0, res.stderr);
  assertKernelTimed(res.lines, false);
});

function rootSkip(what: string): string | false {
  if (process.getuid?.() === 0) return false;
  const reason = `needs root to ${what}`;
  assert.ok(process.env.CI !== 'true', `CI=true (run as root after scripts/setup.sh): ${reason}`);
  return reason;
}

function unshareSkip(): string | false { return rootSkip('hide libbpf in a private mount namespace (unshare -m)'); }
function nobodySkip(): string | false { return rootSkip('run the installed lsptap as another user (setpriv)'); }
