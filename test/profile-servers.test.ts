// Per-request profiles of real servers other than gopls, each on a small project made here:
// TypeScript 7's `tsc --lsp` (a static Go binary: names from its .gopclntab, deep stacks by
// frame pointers) and Debian's clangd (C++ built without frame pointers: names from its
// libraries' symbol tables, stacks that stop at the leaf, and every output says so).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { answerServerRequests } from '../src/demo/gopls-script';
import { SERVER_PROJECTS, runProjectScript, writeProject, type ServerProject } from '../src/demo/server-projects';
import type { ProfileDigest } from '../src/model/record';
import { connect, lsptapBin, readLog, startLsptap, tmpDir, type LogLine } from './helpers/index';
import { bpfSkipReason, kernelDecided } from './helpers/kernel';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { serverOrSkip, type LocatedServer } from './helpers/servers';

const bpfSkip = bpfSkipReason();

interface ProfiledSession { dir: string; log: string; lines: LogLine[]; profiles: ProfileDigest[] }

/** The project's script through lsptap at 99 Hz; the log's lines and every profile object in it (responses' and session end's background). */
async function profiledSession(t: TestContext, server: LocatedServer, project: ServerProject): Promise<ProfiledSession> {
  const dir = tmpDir(t, { worldWritable: true });
  const projectDir = path.join(dir, 'project');
  fs.mkdirSync(projectDir);
  writeProject(projectDir, project);
  const log = path.join(dir, 'log.jsonl');
  const run = startLsptap(t, ['--log', log, '--bpf', 'require', '--profile-hz', '99', '--grace-ms', '20000'], server.command, { cwd: projectDir });
  // The server starts while the probes load: the script waits until they watch it.
  await kernelDecided(log, run);
  const conn = connect(run.child);
  answerServerRequests(conn);
  const { steps } = await runProjectScript(conn, projectDir, project);
  for (const s of steps) assert.ok(s.ok, `${server.name} ${s.method}: ${s.detail}; stderr: ${run.stderr().slice(-3000)}`);
  run.child.stdin!.end();
  await run.exited;
  conn.dispose();
  const lines = readLog(log);
  const profiles: ProfileDigest[] = [];
  for (const l of lines) {
    const k = l.kernel as { profile?: ProfileDigest & { background?: ProfileDigest } } | null | undefined;
    if (k?.profile === undefined) continue;
    profiles.push(l.msg === 'session end' ? k.profile.background! : k.profile);
  }
  return { dir, log, lines, profiles };
}

const lsptapProfile = (...args: string[]): string => execFileSync(process.execPath, [lsptapBin, 'profile', ...args], { encoding: 'utf8' });
const pprofTop = (file: string, ...args: string[]): string => execFileSync('go', ['tool', 'pprof', ...args, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

const tsc = serverOrSkip('tsc');
test('TypeScript 7\'s tsc --lsp gets Go function names from its .gopclntab in its response profiles, lsptap profile and go tool pprof -top', { skip: tsc.skip ?? skipUnless(bpfSkip || missingCommand('go')).skip, timeout: 180_000 }, async (t) => {
  const s = await profiledSession(t, tsc.server!, SERVER_PROJECTS.tsc);
  const TS_GO = /^github\.com\/microsoft\/typescript-go\//;
  const named = s.profiles.flatMap((p) => [...p.total, ...p.cpuIn]).map((x) => x.fn);
  t.diagnostic(`profiles' names: ${[...new Set(named)].slice(0, 12).join(', ')}`);
  assert.ok(named.some((n) => TS_GO.test(n)), `typescript-go functions in the profile objects: ${JSON.stringify(named.slice(0, 40))}`);
  // Go keeps frame pointers: no binary of it is said to stop at the leaf.
  assert.deepEqual(s.profiles.flatMap((p) => p.leafOnly ?? []), [], 'tsc\'s stacks are deep');

  const text = lsptapProfile(s.log);
  t.diagnostic(text.split('\n').slice(0, 12).join('\n'));
  assert.match(text, /github\.com\/microsoft\/typescript-go\//);
  assert.doesNotMatch(text, /stop at the leaf/);
  const out = path.join(s.dir, 'cpu.pb.gz');
  lsptapProfile('-o', out, s.log);
  const top = pprofTop(out, '-top', '-cum', '-nodecount=200');
  assert.match(top, /github\.com\/microsoft\/typescript-go\/internal\//, top.slice(0, 3000));
});

/** C++ that makes clangd work: the standard library's heavier headers parsed on open. */
const CPP_PROJECT: ServerProject = {
  languageId: 'cpp',
  files: {
    'compile_flags.txt': '-std=c++17\n',
    'main.cpp': [
      '#include <algorithm>', '#include <functional>', '#include <iostream>', '#include <map>', '#include <regex>', '#include <sstream>',
      '#include <string>', '#include <unordered_map>', '#include <vector>', '',
      'struct Rect { int width; int height; };', '',
      'int area(const Rect& r) { return r.width * r.height; }', '',
      'int main() {', '  std::vector<Rect> rects{{2, 3}, {4, 5}};', '  std::map<std::string, int> byName;', '  std::regex digits("[0-9]+");',
      '  for (const Rect& r : rects) byName[std::to_string(area(r))] = area(r);', '  std::cout << byName.size() << std::endl;', '  return 0;', '}', '',
    ].join('\n'),
  },
  open: 'main.cpp',
  hover: { needle: 'area(r))', delta: 1 },
  definition: { needle: 'area(r))', delta: 1 },
  typed: 'int width_of(Rect q) { return q.',
};

const clangd = serverOrSkip('clangd');
test('clangd gets names from its libraries\' symbol tables, and its profiles, lsptap profile and the pprof file say its stacks stop at the leaf', { skip: clangd.skip ?? skipUnless(bpfSkip || missingCommand('go')).skip, timeout: 180_000 }, async (t) => {
  const s = await profiledSession(t, clangd.server!, CPP_PROJECT);
  // clang's and LLVM's functions from libclang-cpp's and libLLVM's .dynsym, demangled and cut
  // to the qualified name; none left mangled.
  const named = s.profiles.flatMap((p) => [...p.self, ...p.cpuIn]).map((x) => x.fn);
  t.diagnostic(`profiles' names: ${[...new Set(named)].slice(0, 12).join(', ')}`);
  assert.ok(named.some((n) => /^(clang|llvm)::\w+/.test(n)), `clang or LLVM functions: ${JSON.stringify(named.slice(0, 40))}`);
  assert.deepEqual(named.filter((n) => n.startsWith('_Z')), [], 'no name left mangled');
  const leafOnly = s.profiles.flatMap((p) => p.leafOnly ?? []);
  t.diagnostic(`leafOnly ${JSON.stringify(leafOnly)}`);
  assert.ok(leafOnly.some((b) => /^lib(clang-cpp|LLVM)/.test(b.file) && b.pct > 50), `a profile says clang's or LLVM's stacks stop at the leaf: ${JSON.stringify(leafOnly)}`);

  const text = lsptapProfile(s.log);
  t.diagnostic(text.split('\n').slice(0, 12).join('\n'));
  assert.match(text, /\b(clang|llvm)::\w+/);
  assert.doesNotMatch(text, /\b_ZN/);
  assert.match(text, /stacks stop at the leaf in [^\n]*lib(clang-cpp|LLVM)[^\n]*built without frame pointers/);
  const out = path.join(s.dir, 'cpu.pb.gz');
  lsptapProfile('-o', out, s.log);
  assert.match(pprofTop(out, '-comments'), /stacks stop at the leaf in [^\n]*lib(clang-cpp|LLVM)/);
  assert.match(pprofTop(out, '-top'), /clang|llvm/);
});
