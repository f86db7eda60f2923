// The floor under kernel timing's tax on every other process, and what each first test adds
// to it: `npm run bench:tax [-- --rounds R --batches N --quiet-s S --arms A,B --object NAME=PATH]`. Any program on sys_enter or sys_exit
// sets TIF_SYSCALL_TRACEPOINT on every task, so every syscall of the machine leaves the fast
// path and runs the tracepoint's dispatch; no program body can cost less than an empty one.
// Each arm attaches its programs (bench/tax-probes.c holding bench/tax-arms.bpf.c's, or
// lsptap's own object with nothing watched) and times bench/syscall-loop.c: dd's one-byte
// read+write pairs, getppid(), and a byte's round trip to a child over pipes (wakeups and
// context switches), each the fastest of many short batches (the machine's
// noise only adds). Arms run interleaved, in a rotated order each round; figures are medians
// over rounds of (arm − nothing attached in the same round). Another process's programs on
// sys_enter/sys_exit (another lsptap) put every arm on the slow path and hide the floor: each
// round first waits up to --quiet-s seconds for there to be none, and samples taken beside
// some are reported apart.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './modes';
import { median } from './stats';
import { IO_PROGRAMS, TREE_PROGRAMS } from '../src/probes/kernel-timing';

const BUILD = path.join(REPO_ROOT, 'bench', '.build');
const ARMS_OBJ = path.join(BUILD, 'tax-arms.bpf.o');
const PROBES_BIN = path.join(BUILD, 'tax-probes');
const LOOP_BIN = path.join(BUILD, 'syscall-loop');
const LSPTAP_OBJ = path.join(REPO_ROOT, 'bpf', '.output', 'lsptap.bpf.o');
const VMLINUX_DIR = path.join(REPO_ROOT, 'bpf', '.output');

export interface TaxArm {
  name: string;
  about: string;
  object: string;
  programs: string[];
}

export const TAX_ARMS: TaxArm[] = [
  { name: 'none', about: 'nothing attached', object: ARMS_OBJ, programs: [] },
  { name: 'empty-raw', about: 'empty programs, raw_tp/sys_enter + sys_exit (the floor)', object: ARMS_OBJ, programs: ['empty_raw_enter', 'empty_raw_exit'] },
  { name: 'empty-btf', about: 'empty programs, tp_btf/sys_enter + sys_exit', object: ARMS_OBJ, programs: ['empty_btf_enter', 'empty_btf_exit'] },
  { name: 'empty-btf+switch', about: 'the same and an empty tp_btf/sched_switch', object: ARMS_OBJ, programs: ['empty_btf_enter', 'empty_btf_exit', 'empty_btf_switch'] },
  { name: 'hash', about: 'tp_btf, a hash lookup of the tgid', object: ARMS_OBJ, programs: ['hash_enter', 'hash_exit'] },
  { name: 'bits2', about: 'tp_btf, two bitmap words (roots, children), tgid from bpf_get_current_pid_tgid', object: ARMS_OBJ, programs: ['bits2_enter', 'bits2_exit'] },
  { name: 'bits1', about: 'tp_btf, one bitmap word, tgid from bpf_get_current_pid_tgid', object: ARMS_OBJ, programs: ['bits1_enter', 'bits1_exit'] },
  { name: 'task1', about: 'tp_btf, one bitmap word, tgid read from bpf_get_current_task_btf()', object: ARMS_OBJ, programs: ['task1_enter', 'task1_exit'] },
  { name: 'rawbits1', about: 'raw_tp, one bitmap word', object: ARMS_OBJ, programs: ['rawbits1_enter', 'rawbits1_exit'] },
  { name: 'tp-rw', about: 'empty tp/syscalls/sys_{enter,exit}_{read,write}: the loop\'s own calls traced', object: ARMS_OBJ, programs: ['tp_enter_read', 'tp_exit_read', 'tp_enter_write', 'tp_exit_write'] },
  { name: 'tp-other', about: 'empty tp/syscalls/sys_{enter,exit}_fsync: a call the loop does not make', object: ARMS_OBJ, programs: ['tp_enter_fsync', 'tp_exit_fsync'] },
  { name: 'lsptap', about: 'lsptap.bpf.o as a session attaches it (profiling off), nothing watched', object: LSPTAP_OBJ, programs: [...IO_PROGRAMS, ...TREE_PROGRAMS] },
];

/** Build the arms' object, the loader and the loop unless up to date; throws with the compiler's first line. */
export function buildTaxTools(): void {
  fs.mkdirSync(BUILD, { recursive: true });
  const stale = (out: string, src: string): boolean => !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs;
  const src = (f: string): string => path.join(REPO_ROOT, 'bench', f);
  if (stale(ARMS_OBJ, src('tax-arms.bpf.c'))) {
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-mcpu=v3', '-D__TARGET_ARCH_x86', `-I${VMLINUX_DIR}`, '-c', src('tax-arms.bpf.c'), '-o', ARMS_OBJ], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  if (stale(PROBES_BIN, src('tax-probes.c'))) execFileSync('gcc', ['-O2', '-Wall', '-o', PROBES_BIN, src('tax-probes.c'), '-lbpf'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (stale(LOOP_BIN, src('syscall-loop.c'))) execFileSync('gcc', ['-O2', '-Wall', '-o', LOOP_BIN, src('syscall-loop.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Links on sys_enter/sys_exit right now (every process's, this benchmark's arms included). */
export function syscallLinks(): number {
  const r = spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return 0;
  const links = JSON.parse(r.stdout || '[]') as { type?: string; tp_name?: string }[];
  return links.filter((l) => l.type === 'raw_tracepoint' && (l.tp_name === 'sys_enter' || l.tp_name === 'sys_exit')).length;
}

export interface LoopCost { readWriteNs: number; getppidNs: number; pingPongNs: number }

export function syscallLoop(batches: number): LoopCost {
  return JSON.parse(execFileSync(LOOP_BIN, [String(batches)], { encoding: 'utf8' })) as LoopCost;
}

/** Wait up to timeoutMs for no process to have programs on sys_enter/sys_exit; true if none. */
export async function quietLinks(timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (syscallLinks() > 0) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
  return true;
}

/** Attach an arm's programs, run fn, detach. */
export async function withArm<T>(arm: TaxArm, fn: () => T): Promise<T> {
  if (arm.programs.length === 0) return fn();
  const child = spawn(PROBES_BIN, [arm.object, ...arm.programs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let said = '';
  child.stderr.on('data', (d: Buffer) => { said += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`tax-probes for ${arm.name} exited ${code}: ${said.trim()}`)));
  });
  try {
    return fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}

export interface ArmFigure { arm: TaxArm; readWriteNs: number; getppidNs: number; pingPongNs: number; samples: number }

/** One arm's run, and how many other sys_enter/sys_exit links there were around it (-1: it changed meanwhile). */
interface Sample { arm: string; others: number; cost: LoopCost }

/** Per arm, the median excess over `none` among samples taken with no other links (clean) or with some (shared). */
function figuresOf(arms: TaxArm[], samples: Sample[], clean: boolean): { base: LoopCost | null; figures: ArmFigure[] } {
  const kept = samples.filter((s) => (clean ? s.others === 0 : s.others > 0));
  const of = (arm: string): LoopCost[] => kept.filter((s) => s.arm === arm).map((s) => s.cost);
  const none = of('none');
  if (none.length === 0) return { base: null, figures: [] };
  const base = { readWriteNs: median(none.map((c) => c.readWriteNs)), getppidNs: median(none.map((c) => c.getppidNs)), pingPongNs: median(none.map((c) => c.pingPongNs)) };
  const figures = arms.filter((a) => a.name !== 'none' && of(a.name).length > 0).map((arm) => ({
    arm,
    readWriteNs: median(of(arm.name).map((c) => c.readWriteNs)) - base.readWriteNs,
    getppidNs: median(of(arm.name).map((c) => c.getppidNs)) - base.getppidNs,
    pingPongNs: median(of(arm.name).map((c) => c.pingPongNs)) - base.pingPongNs,
    samples: of(arm.name).length,
  }));
  return { base, figures };
}

/**
 * Every arm over rounds, in a rotated order. Each round first waits up to quietMs for no
 * other process to have links on sys_enter/sys_exit; each sample notes whether some were there.
 */
export async function measureTax(arms: TaxArm[], rounds: number, batches: number, quietMs: number, say: (line: string) => void): Promise<{ clean: ReturnType<typeof figuresOf>; shared: ReturnType<typeof figuresOf> }> {
  const samples: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    await quietLinks(quietMs);
    const line: string[] = [];
    for (let i = 0; i < arms.length; i++) {
      const arm = arms[(i + r) % arms.length];
      const before = syscallLinks();
      const cost = await withArm(arm, () => syscallLoop(batches));
      const after = syscallLinks();
      samples.push({ arm: arm.name, others: before === after ? before : -1, cost });
      line.push(`${arm.name} ${cost.readWriteNs.toFixed(0)}${before === 0 && after === 0 ? '' : '*'}`);
    }
    say(`round ${r + 1}/${rounds}, load ${os.loadavg()[0].toFixed(1)} (* other links attached): ${line.join(', ')}`);
  }
  return { clean: figuresOf(arms, samples, true), shared: figuresOf(arms, samples, false) };
}

function table(title: string, f: ReturnType<typeof figuresOf>): string[] {
  if (f.base === null) return [`${title}: no sample`];
  return [
    `${title}: nothing attached costs ${f.base.readWriteNs.toFixed(0)} ns per read/write, ${f.base.getppidNs.toFixed(0)} ns per getppid, ${f.base.pingPongNs.toFixed(0)} ns per pipe round trip`,
    'arm                 +ns/read,write  +ns/getppid  +ns/round trip  samples  what',
    ...f.figures.map((x) => `${x.arm.name.padEnd(20)}${x.readWriteNs.toFixed(1).padStart(14)}${x.getppidNs.toFixed(1).padStart(13)}${x.pingPongNs.toFixed(1).padStart(16)}${String(x.samples).padStart(9)}  ${x.arm.about}`),
  ];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
  const rounds = opt('--rounds', 7);
  const batches = opt('--batches', 1000);
  const quietMs = opt('--quiet-s', 20) * 1000;
  buildTaxTools();
  const say = (line: string): void => { process.stderr.write(line + '\n'); };
  say(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  // --object NAME=PATH: another build's lsptap.bpf.o as one more arm (compare before and after).
  // --arms a,b,c: only these (and `none`, which every figure is measured against).
  const only = args.includes('--arms') ? new Set(['none', ...args[args.indexOf('--arms') + 1].split(',')]) : null;
  const arms = TAX_ARMS.filter((a) => only === null || only.has(a.name));
  for (let i = args.indexOf('--object'); i >= 0; i = args.indexOf('--object', i + 1)) {
    const [name, file] = (args[i + 1] ?? '').split('=');
    if (!name || !file) throw new Error('--object takes NAME=PATH');
    arms.push({ name, about: `${file} as a session attaches it, nothing watched`, object: path.resolve(file), programs: [...IO_PROGRAMS, ...TREE_PROGRAMS] });
  }
  const { clean, shared } = await measureTax(arms, rounds, batches, quietMs, say);
  say(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  const lines = [
    `ns per syscall or round trip: the fastest of ${batches} batches (256 read+write pairs, 512 getppid(), 64 pipe round trips), ${rounds} rounds; medians`,
    ...table('with no other program on sys_enter/sys_exit (the floor included)', clean),
    ...table('beside another process\'s programs on sys_enter/sys_exit (the slow path already taken: a program\'s own dispatch and body)', shared),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) void main().catch((err: Error) => { process.stderr.write(`tax-floor: ${err.message}\n`); process.exit(1); });
