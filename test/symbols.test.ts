// The symbols layer against caused truth: Go programs built here (stripped, with an
// unstripped twin and a PIE build) that print their own stack as the Go runtime names it,
// Go's own `go tool nm` and `go tool addr2line`, Debian's stripped gopls, a Go 1.20+
// binary, a C program and libraries named by their own symbol tables, /proc/kallsyms and a
// JIT's perf map.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { BinarySymbols, ElfFile, GoLineTable, KernelSymbols, ProcessMaps, Symbolizer, shortCxxName } from '../src/symbols';
import { cxxDemangle } from '../src/probes/native';
import { fixtures, repoRoot, start, tmpDir } from './helpers';
import { goAddr2line, goNm, goSymbolsProgram, removeGoSymbolsProgram, type GoBuild } from './helpers/go-build';
import { serverOrSkip, TSC7_BINARY } from './helpers/servers';

const GOPLS = '/usr/bin/gopls';

after(removeGoSymbolsProgram);
const goProgram = (): GoBuild => goSymbolsProgram(fixtures);

/** Evenly spread pcs over a table's range (deterministic: no seed to print). */
function spreadPcs(table: GoLineTable, count: number): number[] {
  const { start, end } = table.range;
  return Array.from({ length: count }, (_, i) => start + Math.floor(((end - start) * (i + 0.5)) / count));
}

test('names every function of a stripped Go binary as go tool nm names it in its unstripped twin', () => {
  const go = goProgram();
  const binary = BinarySymbols.open(go.stripped);
  assert.equal(binary.elfSymbols?.source ?? null, ElfFile.open(go.stripped).section('.symtab') ? '.symtab' : null);
  assert.ok(binary.go, 'the stripped binary keeps .gopclntab');
  const { start, end } = binary.go.range;
  const symbols = goNm(go.unstripped).filter((s) => s.addr >= start && s.addr < end);
  // Several names at one address (runtime.text and the first function) are aliases: any of
  // them. The linker's symbols of assembly functions carry an ABI suffix the table's names
  // lack, and array equality functions are one table name for every length.
  const tableName = (name: string): string => name.replace(/\.abi0$/, '').replace(/^(type\.\.eq\.)\[\d+\]/, '$1[...]');
  const namesAt = new Map<number, Set<string>>();
  for (const s of symbols) namesAt.set(s.addr, (namesAt.get(s.addr) ?? new Set()).add(tableName(s.name)));
  assert.ok(symbols.length > 1000, `${symbols.length} text symbols`);
  const wrong = [...namesAt].filter(([addr, names]) => !names.has(binary.lookup(addr).fn ?? '?'));
  assert.deepEqual(wrong.slice(0, 5).map(([addr, names]) => [addr.toString(16), [...names], binary.lookup(addr).fn]), []);
  assert.equal(binary.lookup(namesAtFirst(symbols, 'main.lsptapSpin')).fn, 'main.lsptapSpin');
  assert.equal(binary.lookup(namesAtFirst(symbols, 'main.(*worker).run')).fn, 'main.(*worker).run');
});

function namesAtFirst(symbols: { addr: number; name: string }[], name: string): number {
  const s = symbols.find((x) => x.name === name);
  assert.ok(s, `nm lists ${name}`);
  return s.addr;
}

test('gives each pc of a stripped Go binary the function, file and line go tool addr2line gives', () => {
  const go = goProgram();
  const binary = BinarySymbols.open(go.stripped);
  const pcs = spreadPcs(binary.go!, 600);
  const truth = goAddr2line(go.unstripped, pcs);
  const got = pcs.map((pc) => {
    const s = binary.lookup(pc);
    return { fn: s.fn ?? '?', fileLine: `${s.file ?? ''}:${s.line ?? -1}` };
  });
  assert.deepEqual(got, truth);
  assert.ok(truth.filter((x) => x.fileLine.endsWith('.go:-1') === false && !x.fileLine.startsWith(':')).length > 500);
});

for (const kind of ['stripped', 'pie'] as const) {
  test(`names a live ${kind === 'pie' ? 'position-independent' : 'stripped'} Go process's stack as its own runtime does, each return address looked up at pc-1`, async (t) => {
    const go = goProgram();
    const run = start(t, go[kind], [], { cwd: path.dirname(go[kind]) });
    let out = '';
    run.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    while (!out.includes('ready\n')) await once(run.child.stdout!, 'data');
    const maps = ProcessMaps.read(run.child.pid!);
    assert.ok(maps);
    const symbolizer = new Symbolizer();
    const frames = [...out.matchAll(/^frame ([0-9a-f]+) (.+)\t(.+)\t(\d+)$/gm)];
    assert.ok(frames.length >= 6, out);
    for (const [, pc, fn, file, line] of frames) {
      const { mapping, symbol } = symbolizer.user(maps, BigInt(`0x${pc}`), true);
      assert.equal(mapping?.file, go[kind]);
      assert.deepEqual(symbol, { fn, file, line: Number(line) }, `frame ${pc}`);
    }
    const funcs = [...out.matchAll(/^func ([0-9a-f]+) (.+)$/gm)];
    for (const [, pc, fn] of funcs) assert.equal(symbolizer.user(maps, BigInt(`0x${pc}`), false).symbol.fn, fn);
    // The entry pc looked up as a return address is the byte before it: the previous function.
    const spin = funcs.find((f) => f[2] === 'main.lsptapSpin')!;
    assert.notEqual(symbolizer.user(maps, BigInt(`0x${spin[1]}`), true).symbol.fn, 'main.lsptapSpin');
    assert.equal(maps.find(BigInt(`0x${spin[1]}`))?.buildId, ElfFile.open(go[kind]).buildId());
    run.child.stdin!.end('\n');
    assert.equal((await run.exited).code, 0);
  });
}

test('finds the Go table by its header when the section headers are gone', (t) => {
  const go = goProgram();
  const copy = path.join(tmpDir(t), 'no-sections');
  const bytes = fs.readFileSync(go.stripped);
  bytes.writeBigUInt64LE(0n, 40); // e_shoff
  bytes.writeUInt16LE(0, 60); // e_shnum
  bytes.writeUInt16LE(0, 62); // e_shstrndx
  fs.writeFileSync(copy, bytes);
  assert.equal(ElfFile.open(copy).sections.length, 0);
  const original = BinarySymbols.open(go.stripped);
  const searched = BinarySymbols.open(copy);
  assert.ok(searched.go);
  for (const pc of spreadPcs(original.go!, 300)) assert.deepEqual(searched.lookup(pc), original.lookup(pc));
});

test('names Debian\'s stripped gopls (Go 1.19) as go tool addr2line does, gopls\'s own packages included', { skip: fs.existsSync(GOPLS) ? false : `${GOPLS} is not installed` }, () => {
  const binary = BinarySymbols.open(GOPLS);
  assert.equal(binary.elfSymbols?.source ?? null, '.dynsym');
  assert.equal(binary.go?.version, '1.18');
  const pcs = spreadPcs(binary.go, 1000);
  const truth = goAddr2line(GOPLS, pcs);
  const got = pcs.map((pc) => {
    const s = binary.lookup(pc);
    return { fn: s.fn ?? '?', fileLine: `${s.file ?? ''}:${s.line ?? -1}` };
  });
  assert.deepEqual(got, truth);
  assert.ok(got.some((s) => s.fn.startsWith('golang.org/x/tools/gopls/internal/lsp')), 'gopls functions named');
  assert.ok(got.some((s) => s.fn.startsWith('go/types.')), 'go/types functions named');
  const entry = elfEntry(GOPLS);
  assert.equal(binary.lookup(entry).fn, '_rt0_amd64_linux');
});

function elfEntry(file: string): number {
  return Number(fs.readFileSync(file).subarray(0, 64).readBigUInt64LE(24));
}

const tsc7 = serverOrSkip('tsc');
/** Go 1.20+ binaries at hand: esbuild's (a devDependency) and TypeScript 7's tsc. */
const newGoBinaries: { file: string; ownPackage: string }[] = [
  { file: path.join(repoRoot, 'node_modules', '@esbuild', 'linux-x64', 'bin', 'esbuild'), ownPackage: 'github.com/evanw/esbuild/internal/' },
  ...(tsc7.server ? [{ file: TSC7_BINARY, ownPackage: 'github.com/microsoft/typescript-go/internal/' }] : []),
];

for (const { file, ownPackage } of newGoBinaries) {
  test(`names a Go 1.20+ binary (magic 0xfffffff1), ${path.basename(file)}: its ELF entry point is the Go runtime's, its functions its own packages'`, () => {
    const binary = BinarySymbols.open(file);
    assert.equal(binary.go?.version, '1.20');
    assert.equal(binary.lookup(elfEntry(file)).fn, '_rt0_amd64_linux');
    const named = spreadPcs(binary.go, 500).map((pc) => binary.lookup(pc));
    // Every pc of Go code is in a function with a name; most have a .go file and a line.
    assert.equal(named.filter((s) => s.fn === null).length, 0);
    assert.ok(named.filter((s) => s.file?.endsWith('.go') && s.line! > 0).length > 450);
    assert.ok(named.filter((s) => s.fn!.startsWith(ownPackage)).length > 100, ownPackage);
  });
}
if (tsc7.skip) test('names TypeScript 7\'s tsc (Go 1.20+)', { skip: tsc7.skip }, () => {});

test('names C functions from .symtab and, stripped, exported ones from .dynsym; the rest keep mapping and offset', async (t) => {
  const dir = tmpDir(t);
  const src = path.join(dir, 'prog.c');
  fs.writeFileSync(src, [
    '#include <stdio.h>',
    '#include <unistd.h>',
    '__attribute__((noinline)) static int lsptap_c_static(int n) { int s = 0; for (int i = 0; i < n; i++) s += i; return s; }',
    '__attribute__((noinline)) int lsptap_c_exported(int n) { return lsptap_c_static(n) + 1; }',
    'int main(void) {',
    '  printf("static %lx\\nexported %lx\\nwrite %lx\\nready\\n", (unsigned long)&lsptap_c_static, (unsigned long)&lsptap_c_exported, (unsigned long)&write);',
    '  fflush(stdout); char c; read(0, &c, 1); return lsptap_c_exported(3) == 4 ? 0 : 1;',
    '}',
  ].join('\n'));
  const full = path.join(dir, 'prog'), stripped = path.join(dir, 'prog-stripped');
  execFileSync('gcc', ['-O1', '-rdynamic', '-o', full, src]);
  execFileSync('gcc', ['-O1', '-rdynamic', '-s', '-o', stripped, src]);
  const symbolizer = new Symbolizer();
  for (const file of [full, stripped]) {
    const run = start(t, file, []);
    let out = '';
    run.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    while (!out.includes('ready\n')) await once(run.child.stdout!, 'data');
    const addr = (name: string): bigint => BigInt(`0x${/^(\S+) ([0-9a-f]+)$/m.exec(out.split('\n').find((l) => l.startsWith(`${name} `))!)![2]}`);
    const maps = ProcessMaps.read(run.child.pid!)!;
    assert.equal(symbolizer.user(maps, addr('exported') + 2n, false).symbol.fn, 'lsptap_c_exported', file);
    assert.equal(symbolizer.user(maps, addr('write') + 1n, false).symbol.fn, 'write', 'libc from its .dynsym');
    const local = symbolizer.user(maps, addr('static') + 1n, false);
    if (file === full) {
      assert.equal(local.symbol.fn, 'lsptap_c_static');
    } else {
      assert.equal(local.symbol.fn, null, 'a static function of a stripped binary has no name');
      assert.equal(local.mapping?.file, file, 'but keeps its mapping');
    }
    run.child.stdin!.end('x');
    assert.equal((await run.exited).code, 0);
  }
});

test('names the functions of clangd\'s library from its .dynsym as readelf lists them', { skip: fs.existsSync('/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14') ? false : 'clangd (libclang-cpp 14) is not installed' }, () => {
  const lib = fs.realpathSync('/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14');
  const listed = execFileSync('readelf', ['-W', '--dyn-syms', lib], { maxBuffer: 1 << 28 }).toString();
  const funcs: { addr: number; size: number; name: string }[] = [];
  for (const m of listed.matchAll(/^\s*\d+: ([0-9a-f]+)\s+(\d+) FUNC\s+\S+\s+\S+\s+(\d+) (\S+)$/gm)) {
    if (Number(m[2]) > 1) funcs.push({ addr: parseInt(m[1], 16), size: Number(m[2]), name: m[4].replace(/@.*$/, '') });
  }
  assert.ok(funcs.length > 10000, `${funcs.length} functions`);
  const names = new Map<number, Set<string>>();
  for (const f of funcs) names.set(f.addr, (names.get(f.addr) ?? new Set()).add(f.name));
  const binary = BinarySymbols.open(lib);
  assert.equal(binary.go, null);
  const sample = funcs.filter((_, i) => i % 97 === 0);
  for (const f of sample) assert.ok(names.get(f.addr)!.has(binary.lookup(f.addr + 1).fn ?? '?'), f.name);
});

test('a demangled C++ name is cut to the qualified function: no parameters, template arguments, qualifiers or return type', () => {
  const cases: [string, string][] = [
    ['std::vector<int, std::allocator<int> >::push_back(int const&)', 'std::vector::push_back'],
    ['clang::Sema::CheckCompletedCXXClass(clang::Scope*, clang::CXXRecordDecl*)', 'clang::Sema::CheckCompletedCXXClass'],
    ['void Foo<int, double>(int)', 'Foo'],
    ['(anonymous namespace)::Foo::operator()()', '(anonymous namespace)::Foo::operator()'],
    ['foo::bar() const', 'foo::bar'],
    ['operator<<(std::basic_ostream<char, std::char_traits<char> >&, Foo const&)', 'operator<<'],
    ['Foo<int>::operator int()', 'Foo::operator int'],
    ['operator new(unsigned long)', 'operator new'],
    ['main::{lambda(int)#1}::operator()(int) const', 'main::{lambda(int)#1}::operator()'],
    ['outer(int)::Local::method()', 'outer::Local::method'],
    ['std::__1::basic_string<char, std::__1::char_traits<char>, std::__1::allocator<char> >::basic_string(std::__1::basic_string<char, std::__1::char_traits<char>, std::__1::allocator<char> > const&)', 'std::__1::basic_string::basic_string'],
  ];
  for (const [full, short] of cases) assert.equal(shortCxxName(full), short, full);
});

test('names a C++ function by its short source name, demangled by the C++ runtime (libstdc++ in this very process, as c++filt reads it)', () => {
  const maps = ProcessMaps.read(process.pid)!;
  const lib = maps.mappings.find((m) => m.file.includes('/libstdc++.so.6'));
  assert.ok(lib !== undefined && 'inode' in lib, 'node links libstdc++');
  const file = lib.file;
  const listed = execFileSync('readelf', ['-W', '--dyn-syms', file], { maxBuffer: 1 << 26 }).toString();
  const fn = [...listed.matchAll(/^\s*\d+: ([0-9a-f]+)\s+(\d+) FUNC\s+\S+\s+\S+\s+\d+ (_ZNKSt\S+)$/gm)].find((m) => Number(m[2]) > 4);
  assert.ok(fn !== undefined, 'libstdc++ exports mangled functions');
  const mangled = fn[3].replace(/@.*$/, '');
  const full = execFileSync('c++filt', [mangled]).toString().trim();
  assert.equal(cxxDemangle(mangled), full, 'the runtime demangles as c++filt does');
  assert.equal(cxxDemangle('main'), null, 'a C name is not mangled');
  // The library's text is loaded at the vaddr of its file offset (its load segments start at 0).
  const pc = lib.start - lib.offset + BigInt(parseInt(fn[1], 16) + 2);
  assert.equal(new Symbolizer({ demangle: cxxDemangle }).user(maps, pc, false).symbol.fn, shortCxxName(full));
  assert.equal(new Symbolizer().user(maps, pc, false).symbol.fn, mangled, 'without a demangler, as linked');
});

test('names kernel addresses from /proc/kallsyms', { skip: kallsymsReadable() ? false : '/proc/kallsyms shows zero addresses (needs root or CAP_SYSLOG)' }, () => {
  const text = fs.readFileSync('/proc/kallsyms', 'latin1');
  const rows = [...text.matchAll(/^([0-9a-f]+) [tT] (\S+)$/gm)].map((m) => ({ addr: BigInt(`0x${m[1]}`), name: m[2] }));
  const kernel = new KernelSymbols();
  const symbolizer = new Symbolizer({ kernelSymbols: kernel });
  for (const name of ['schedule', 'do_sys_openat2', 'vfs_read']) {
    const row = rows.find((r) => r.name === name);
    assert.ok(row, name);
    assert.deepEqual(symbolizer.kernel(row.addr + 4n).symbol, { fn: name, file: null, line: null });
  }
});

function kallsymsReadable(): boolean {
  try {
    return !/^0+ /.test(fs.readFileSync('/proc/kallsyms', 'latin1').slice(0, 40));
  } catch {
    return false;
  }
}

test('names JIT code of a process that writes /tmp/perf-PID.map (node --perf-basic-prof)', async (t) => {
  const script = 'function lsptapHotLoop(n){let s=0;for(let i=0;i<n;i++)s+=i%7;return s}for(let i=0;i<3000;i++)lsptapHotLoop(1e4);process.stdout.write("ready\\n");process.stdin.resume();process.stdin.on("end",()=>process.exit(0));';
  // In a temp dir: with --perf-basic-prof node also writes an isolate-*.log into its cwd.
  const run = start(t, process.execPath, ['--perf-basic-prof', '-e', script], { cwd: tmpDir(t) });
  const mapFile = `/tmp/perf-${run.child.pid}.map`;
  t.after(() => fs.rmSync(mapFile, { force: true }));
  let out = '';
  run.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  while (!out.includes('ready\n')) await once(run.child.stdout!, 'data');
  // `JS:*` is optimized machine code (a `JS:~` line is the interpreter's, in the heap).
  const line = fs.readFileSync(mapFile, 'utf8').split('\n').filter((l) => l.includes('JS:*lsptapHotLoop')).pop();
  assert.ok(line, 'node wrote the compiled function to its perf map');
  const [startHex, sizeHex, ...name] = line.split(' ');
  const pc = BigInt(`0x${startHex}`) + BigInt(`0x${sizeHex}`) / 2n;
  const maps = ProcessMaps.read(run.child.pid!)!;
  const { mapping, symbol } = new Symbolizer().user(maps, pc, false);
  assert.equal(mapping?.file, '', 'JIT code lives in anonymous memory');
  assert.equal(symbol.fn, name.join(' '));
  run.child.stdin!.end();
  await run.exited;
});

test('reads /proc/PID/maps lines with spaces and deleted files, keeping executable mappings only', () => {
  const maps = ProcessMaps.parse(1, [
    '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/a b',
    '00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/a b',
    '7f0000000000-7f0000001000 r-xp 00001000 fd:01 42  /tmp/lib.so (deleted)',
    '7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]',
    '7f1000000000-7f1000100000 rwxp 00000000 00:00 0 ',
    'garbage',
  ].join('\n'));
  assert.deepEqual(maps.mappings.map((m) => [m.file, m.offset, m.inode]), [
    ['/usr/bin/a b', 0n, 173521],
    ['/tmp/lib.so (deleted)', 0x1000n, 42],
    ['', 0n, 0],
    ['[vdso]', 0n, 0],
  ]);
  assert.equal(maps.find(0x400000n)?.file, '/usr/bin/a b');
  assert.equal(maps.find(0x452000n), null);
  assert.equal(maps.find(0x7f0000000fffn)?.inode, 42);
});
