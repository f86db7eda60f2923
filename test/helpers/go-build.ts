// Builds a Go main package in a test's temp dir, off the network (no dependencies), as a
// stripped binary (`-ldflags=-s -w`, as Debian ships gopls) and, when asked, an unstripped
// twin or a position-independent one, so a test has the toolchain's own truth beside it.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface GoBuild {
  /** -s -w: no symbol table, no DWARF; .gopclntab kept. */
  stripped: string;
  /** Same source, symbols and DWARF kept. */
  unstripped: string;
  /** -buildmode=pie, stripped: loaded at a random base, its table inside .data.rel.ro. */
  pie: string;
}

const goEnv = { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GO111MODULE: 'on', CGO_ENABLED: '0' };

/** Writes main.go (and go.mod) into dir and builds the three binaries. */
export function buildGo(dir: string, mainSource: string, module = 'lsptaptest'): GoBuild {
  fs.writeFileSync(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
  fs.writeFileSync(path.join(dir, 'main.go'), mainSource);
  const out = (name: string): string => path.join(dir, name);
  const build = (args: string[]): void => {
    execFileSync('go', ['build', ...args, '.'], { cwd: dir, env: goEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  build(['-ldflags=-s -w', '-o', out('prog-stripped')]);
  build(['-o', out('prog')]);
  build(['-buildmode=pie', '-ldflags=-s -w', '-o', out('prog-pie')]);
  return { stripped: out('prog-stripped'), unstripped: out('prog'), pie: out('prog-pie') };
}

/** `go tool nm` of a binary: text symbols with their addresses. */
export function goNm(binary: string): { addr: number; name: string }[] {
  const text = execFileSync('go', ['tool', 'nm', binary], { maxBuffer: 1 << 28 }).toString();
  const out: { addr: number; name: string }[] = [];
  for (const m of text.matchAll(/^\s*([0-9a-f]+) [Tt] (.+)$/gm)) out.push({ addr: parseInt(m[1], 16), name: m[2] });
  return out;
}

/** `go tool addr2line`: function and file:line of each pc (file ":-1" where it has none). */
export function goAddr2line(binary: string, pcs: number[]): { fn: string; fileLine: string }[] {
  const input = pcs.map((pc) => `0x${pc.toString(16)}`).join('\n') + '\n';
  const lines = execFileSync('go', ['tool', 'addr2line', binary], { input, maxBuffer: 1 << 28 }).toString().split('\n');
  return pcs.map((_, i) => ({ fn: lines[2 * i], fileLine: lines[2 * i + 1] }));
}

let symbolsProgram: { dir: string; build: GoBuild } | null = null;

/**
 * test/fixtures/go-symbols built once per test file (a PIE build of the standard library takes
 * ~25 s the first time) in a temp dir; the file removes it with after(removeGoSymbolsProgram).
 */
export function goSymbolsProgram(fixtures: string): GoBuild {
  if (symbolsProgram === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-test-'));
    symbolsProgram = { dir, build: buildGo(dir, fs.readFileSync(path.join(fixtures, 'go-symbols', 'main.go'), 'utf8')) };
  }
  return symbolsProgram.build;
}

export function removeGoSymbolsProgram(): void {
  if (symbolsProgram !== null) fs.rmSync(symbolsProgram.dir, { recursive: true, force: true });
  symbolsProgram = null;
}
