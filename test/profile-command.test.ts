// The profile file and `lsptap profile`: the writer's file read back, its bound, and pprof
// files built from real symbolized stacks (a stripped Go program built here, live, plus
// kernel frames from /proc/kallsyms) checked with Go's own `go tool pprof`.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { KERNEL_MAPPING, profileFileFor, type ProfileFrame, type ProfileSample } from '../src/model/profile-file';
import { ProfileWriter, type ProfileDest } from '../src/sinks/profile-writer';
import { emptyProfileData, readProfileFile } from '../src/profile/profile-reader';
import { ProcessMaps, Symbolizer } from '../src/symbols';
import { fixtures, lsptapBin, start, tmpDir } from './helpers';
import { goSymbolsProgram, removeGoSymbolsProgram, type GoBuild } from './helpers/go-build';

after(removeGoSymbolsProgram);
const goProgram = (): GoBuild => goSymbolsProgram(fixtures);

function lsptap(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [lsptapBin, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pprof(args: string[]): string {
  return execFileSync('go', ['tool', 'pprof', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Real stacks: the Go program's own frames and functions, symbolized live, and kernel frames. */
async function realStacks(t: import('node:test').TestContext): Promise<{ deep: ProfileFrame[]; spin: ProfileFrame[]; idle: ProfileFrame[]; file: string }> {
  const go = goProgram();
  const run = start(t, go.stripped, []);
  let out = '';
  run.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  while (!out.includes('ready\n')) await once(run.child.stdout!, 'data');
  const maps = ProcessMaps.read(run.child.pid!)!;
  const symbolizer = new Symbolizer();
  const frames = [...out.matchAll(/^frame ([0-9a-f]+) /gm)].map((m) => BigInt(`0x${m[1]}`));
  const spinAt = BigInt(`0x${/^func ([0-9a-f]+) main\.lsptapSpin$/m.exec(out)![1]}`) + 8n;
  const user = (pc: bigint, isReturn: boolean): ProfileFrame => {
    const { mapping, symbol } = symbolizer.user(maps, pc, isReturn);
    return { mapping, address: pc, ...symbol };
  };
  const kallsyms = fs.readFileSync('/proc/kallsyms', 'latin1');
  const kernel = (name: string): ProfileFrame => {
    const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm').exec(kallsyms);
    assert.ok(m, name);
    const pc = BigInt(`0x${m[1]}`) + 16n;
    return { mapping: KERNEL_MAPPING, address: pc, ...symbolizer.kernel(pc).symbol };
  };
  const deep = [kernel('vfs_read'), kernel('ksys_read'), ...frames.map((pc) => user(pc, true))];
  // main's frame and below, under lsptapSpin as the leaf
  const spin = [user(spinAt, false), ...frames.slice(5).map((pc) => user(pc, true))];
  const idle = frames.slice(6).map((pc) => user(pc, true));
  run.child.stdin!.end('\n');
  await run.exited;
  return { deep, spin, idle, file: go.stripped };
}

function memoryDest(): ProfileDest & { text: string } {
  return { text: '', write(s: string) { this.text += s; return true; }, flushSync() {}, end() {} };
}

test('the profile writer defines each mapping, function and location once, before its first use, and the reader gives the samples back', async (t) => {
  const { deep, spin } = await realStacks(t);
  const dest = memoryDest();
  const w = new ProfileWriter(dest, null, { hz: 99, session: 'ab12cd34' });
  const samples: ProfileSample[] = [
    { kind: 'cpu', method: 'textDocument/hover', id: 12, count: 3, valueNs: 30_303_030, stack: deep },
    { kind: 'cpu', method: 'textDocument/hover', id: 12, count: 1, valueNs: 10_101_010, stack: deep },
    { kind: 'wait', method: null, id: null, count: 2, valueNs: 5_000_000, stack: spin },
  ];
  w.add(samples);
  const totals = w.close();
  const lines = dest.text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { t: 'session', startedAt: lines[0].startedAt, hz: 99, session: 'ab12cd34' });
  const defined = new Set<string>();
  for (const l of lines.slice(1)) {
    if (l.t === 'sample') {
      for (const id of l.stack) assert.ok(defined.has(`location:${id}`), `location ${id} defined before use`);
      continue;
    }
    assert.ok(!defined.has(`${l.t}:${l.i}`), `${l.t} ${l.i} defined once`);
    defined.add(`${l.t}:${l.i}`);
    if (l.t === 'location') {
      assert.ok(l.mapping === 0 || defined.has(`mapping:${l.mapping}`));
      assert.ok(l.function === 0 || defined.has(`function:${l.function}`));
    }
  }
  assert.equal(lines.filter((l) => l.t === 'mapping').length, 2, 'the Go binary and [kernel]');
  assert.equal(lines.filter((l) => l.t === 'sample').length, 3);
  assert.deepEqual(lines.filter((l) => l.t === 'sample').map((l) => l.id), ['12', '12', null]);
  assert.deepEqual({ samples: totals.samples, count: totals.count, cutSamples: totals.cutSamples }, { samples: 3, count: 6, cutSamples: 0 });
  assert.equal(totals.bytes, Buffer.byteLength(dest.text));

  const file = path.join(tmpDir(t), 'x.profile.jsonl');
  fs.writeFileSync(file, dest.text);
  const data = emptyProfileData();
  readProfileFile(file, data);
  assert.equal(data.badLines, 0);
  assert.equal(data.hz, 99);
  const plain = (f: ProfileFrame): ProfileFrame => ({
    ...f, mapping: f.mapping && { start: f.mapping.start, limit: f.mapping.limit, offset: f.mapping.offset, file: f.mapping.file, buildId: f.mapping.buildId },
  });
  assert.deepEqual(data.samples.map((s) => ({ ...s, stack: s.stack.map(plain) })),
    samples.map((s) => ({ ...s, id: s.id === null ? null : String(s.id), stack: s.stack.map(plain), session: 'ab12cd34' })));
});

test('the profile writer stops at its size bound, counts what it left out, and ends with a cut line', async (t) => {
  const { deep } = await realStacks(t);
  const dest = memoryDest();
  const w = new ProfileWriter(dest, null, { maxBytes: 6000 });
  const samples = Array.from({ length: 100 }, (_, i): ProfileSample => ({ kind: 'cpu', method: 'm', id: i, count: 1, valueNs: 1e7, stack: deep }));
  w.add(samples);
  const totals = w.close();
  assert.ok(totals.samples > 5 && totals.samples < 100, `${totals.samples} written`);
  assert.equal(totals.samples + totals.cutSamples, 100);
  assert.ok(Buffer.byteLength(dest.text) <= 6000, `${Buffer.byteLength(dest.text)} bytes`);
  const last = JSON.parse(dest.text.trim().split('\n').pop()!);
  assert.deepEqual(last, { t: 'cut', samples: totals.cutSamples, count: totals.cutSamples, valueNs: totals.cutSamples * 1e7 });
});

test('the profile file beside a log is named for it and opened 0600', (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'lsptap-20261207T100000-000-42.jsonl');
  assert.equal(profileFileFor(log), path.join(dir, 'lsptap-20261207T100000-000-42.profile.jsonl'));
  const w = ProfileWriter.open(log, { hz: 99 });
  w.close();
  assert.equal(w.totals.path, profileFileFor(log));
  assert.equal(fs.statSync(profileFileFor(log)).mode & 0o777, 0o600);
  fs.symlinkSync('/dev/null', path.join(dir, 'link.profile.jsonl'));
  assert.throws(() => ProfileWriter.open(path.join(dir, 'link.jsonl')), /symbolic link/);
});

/** A session log in dir whose end names its profile file, holding these samples; lines go before session end. */
function sessionWithProfile(dir: string, samples: ProfileSample[], lines: Record<string, unknown>[]): string {
  const log = path.join(dir, 'session.jsonl');
  const w = ProfileWriter.open(log, { hz: 99 });
  w.add(samples);
  w.close();
  fs.writeFileSync(log, [...lines, { level: 30, msg: 'session end', profileFile: profileFileFor(log) }].map((l) => JSON.stringify(l)).join('\n') + '\n');
  return log;
}

test('lsptap profile -o writes a pprof file that go tool pprof reads: functions, file:line, and one request by -tagfocus id=N', async (t) => {
  const { deep, spin, idle, file } = await realStacks(t);
  const dir = tmpDir(t);
  // A session log's end names its profile file (relative to the log, as a field).
  const log = sessionWithProfile(dir, [
    { kind: 'cpu', method: 'textDocument/hover', id: 12, count: 30, valueNs: 303_030_300, stack: deep },
    { kind: 'cpu', method: 'textDocument/completion', id: 13, count: 10, valueNs: 101_010_100, stack: spin },
    { kind: 'cpu', method: null, id: null, count: 5, valueNs: 50_505_050, stack: idle },
    { kind: 'wait', method: 'textDocument/completion', id: 13, count: 2, valueNs: 7_000_000, stack: deep },
  ], [
    { level: 30, msg: 'message', dir: 's2c', kind: 'response', method: 'textDocument/hover', id: 12, latencyMs: 400 },
    { level: 30, msg: 'message', dir: 's2c', kind: 'response', method: 'textDocument/completion', id: 13, latencyMs: 900 },
  ]);

  const out = path.join(dir, 'cpu.pb.gz');
  const r = lsptap(['profile', '-o', out, log]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(out).subarray(0, 2).toString('hex'), '1f8b', 'gzipped');
  const top = pprof(['-top', '-nodecount=100', out]);
  assert.match(top, /^File: prog-stripped$/m);
  assert.match(top, /^Type: cpu$/m);
  assert.match(top, /Showing nodes accounting for 454\.55ms, 100% of 454\.55ms total/);
  for (const fn of ['main.lsptapLeaf', 'main.lsptapMiddle', 'main.(*worker).run', 'main.lsptapSpin', 'runtime.main', 'vfs_read']) assert.match(top, new RegExp(` ${fn.replace(/[.*()]/g, '\\$&')}$`, 'm'), fn);
  const lines = pprof(['-top', '-lines', '-nodecount=100', out]);
  assert.match(lines, /main\.lsptapLeaf .*main\.go:20$/m);
  const hover = pprof(['-top', '-nodecount=100', '-tagfocus', 'id=12', out]);
  assert.match(hover, /Showing nodes accounting for 303\.03ms, 66\.67% of 454\.55ms total/);
  assert.match(hover, /main\.lsptapLeaf$/m);
  assert.doesNotMatch(hover, /main\.lsptapSpin$/m);
  const tags = pprof(['-tags', out]);
  assert.match(tags, /method: Total 45/);
  assert.match(tags, /\(background\)/);
  const raw = pprof(['-raw', out]);
  assert.ok(raw.includes(file), 'the mapping names the binary');

  const wait = path.join(dir, 'wait.pb.gz');
  assert.equal(lsptap(['profile', '--kind', 'wait', '-o', wait, log]).code, 0);
  const waitTop = pprof(['-top', wait]);
  assert.match(waitTop, /^Type: wait$/m);
  assert.match(waitTop, /Showing nodes accounting for 7ms, 100% of 7ms total/);

  // --slowest 1 keeps completion (900 ms in the log), though hover sampled more CPU.
  const slow = lsptap(['profile', '--slowest', '1', log]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.match(slow.stdout, /^CPU: 101ms in 10 samples, 1 request$/m);
  assert.match(slow.stdout, /main\.lsptapSpin$/m);
  assert.doesNotMatch(slow.stdout, /main\.lsptapLeaf$/m);

  // Text: flat and cumulative shares, ranked by flat.
  const text = lsptap(['profile', profileFileFor(log)]);
  assert.equal(text.code, 0, text.stderr);
  const rows = text.stdout.split('\n');
  assert.match(rows[0], /^CPU: 455ms in 45 samples, 2 requests and background work$/);
  assert.match(rows[1], /flat\s+flat%\s+cum\s+cum%\s+function/);
  assert.match(rows[2], /^\s*303ms\s+66\.7%\s+303ms\s+66\.7%\s+vfs_read$/);
  assert.match(text.stdout, /^\s*51ms\s+11\.1%\s+455ms\s+100\.0%\s+runtime\.main$/m);
  assert.match(text.stdout, /^\s*0ms\s+0\.0%\s+455ms\s+100\.0%\s+runtime\.goexit$/m);

  const byMethod = lsptap(['profile', '--method', 'textDocument/completion', '--id', '13', dir]);
  assert.equal(byMethod.code, 0, byMethod.stderr);
  assert.match(byMethod.stdout, /^CPU: 101ms in 10 samples, 1 request$/m);
  assert.equal(lsptap(['profile', '--id', '99', log]).code, 1);
});

test('lsptap profile: --help exits 0, an unknown option exits 2 with the usage, and the main usage names it', () => {
  const help = lsptap(['profile', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: lsptap profile/);
  const bad = lsptap(['profile', '--bogus', 'x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^lsptap profile: unknown option --bogus\n/);
  assert.match(bad.stderr, /usage: lsptap profile/);
  assert.equal(lsptap(['profile', '--kind', 'heap', 'x']).code, 2);
  assert.match(lsptap(['--help']).stdout, /lsptap profile/);
});

test('a log directory\'s profile files are not read as logs by lsptap report', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'a.jsonl'), `${JSON.stringify({ level: 30, time: 1, msg: 'message', dir: 'c2s', kind: 'request', method: 'initialize', id: 1, bytes: 2 })}\n`);
  fs.writeFileSync(path.join(dir, 'a.profile.jsonl'), `${JSON.stringify({ t: 'session', startedAt: new Date().toISOString(), hz: 99 })}\n`);
  const r = lsptap(['report', '--json', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /profile/);
});

test('lsptap profile --redact writes a pprof file and a text view with no path under the session\'s workspace or home, and functions still named', async (t) => {
  const { deep, spin, file } = await realStacks(t);
  const workspace = path.dirname(file); // the Go program's sources and binary: the "project"
  const dir = tmpDir(t);
  const log = sessionWithProfile(dir, [
    { kind: 'cpu', method: 'textDocument/hover', id: 12, count: 30, valueNs: 303_030_300, stack: deep },
    { kind: 'cpu', method: 'textDocument/completion', id: 13, count: 10, valueNs: 101_010_100, stack: spin },
  ], [
    { level: 30, msg: 'session start', cwd: workspace },
    { level: 30, msg: 'message', dir: 's2c', kind: 'response', method: 'textDocument/hover', id: 12, latencyMs: 400 },
  ]);

  const out = path.join(dir, 'cpu.pb.gz');
  const r = lsptap(['profile', '--redact', '-o', out, log]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /redacted: .*<workspace>/);
  const raw = pprof(['-raw', out]);
  assert.ok(!raw.includes(workspace), 'no workspace path in the redacted pprof file');
  assert.ok(raw.includes('<workspace>/'), 'paths under the workspace are placeholders');
  const lines = pprof(['-top', '-lines', '-nodecount=100', out]);
  assert.match(lines, /main\.lsptapLeaf .*<workspace>\/a\d+\.go:20$/m, 'functions keep their names, files their extension and line');
  const plain = lsptap(['profile', '-o', path.join(dir, 'plain.pb.gz'), log]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(pprof(['-raw', path.join(dir, 'plain.pb.gz')]).includes(workspace), 'without --redact the paths are kept (the check above can fail)');
});
