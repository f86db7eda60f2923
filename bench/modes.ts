// The five ways the benchmark connects its client to a server, and what each needs:
// direct (no proxy), relay (plain Node byte relay), floor (splice(2) relay in C, built
// here with gcc), lsptap (log to a file, kernel timing off), lsptap-kernel (kernel timing
// required, profiling off; reported as not available, with the reason, when lsptap cannot
// load BPF), lsptap-profile (the same with per-request profiles at 99 Hz, lsptap's default).

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type ModeName = 'direct' | 'relay' | 'floor' | 'lsptap' | 'lsptap-kernel' | 'lsptap-profile';
export const MODE_NAMES: ModeName[] = ['direct', 'relay', 'floor', 'lsptap', 'lsptap-kernel', 'lsptap-profile'];
/** The rate lsptap-profile samples at: lsptap's default (model/stages.ts). */
export const BENCH_PROFILE_HZ = 99;
/** Modes that run only the workloads their budgets read (the gopls session). */
export const GOPLS_ONLY_MODES: readonly ModeName[] = ['lsptap-profile'];

export interface Mode {
  name: ModeName;
  /** What the mode measures, for docs/benchmarks.md and the report. */
  about: string;
  available: boolean;
  /** Why it is not available. */
  reason: string | null;
  /** The command line that runs `server` behind this mode; logPath is lsptap's log. */
  wrap(server: string[], logPath: string): string[];
  /** Whether the spawned process is a proxy (its CPU and memory are measured). */
  proxied: boolean;
}

/** The repository root (this file runs from dist/bench/). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LSPTAP = path.join(REPO_ROOT, 'bin', 'lsptap');
const SPLICE_SRC = path.join(REPO_ROOT, 'bench', 'splice-relay.c');
const SPLICE_BIN = path.join(REPO_ROOT, 'bench', '.build', 'splice-relay');
const PLAIN_RELAY = path.join(__dirname, 'plain-relay.js');
export const ECHO_SERVER = [process.execPath, path.join(__dirname, 'echo-server.js')];

/** Build the splice relay unless an up-to-date binary exists; returns its path or throws. */
export function buildSpliceRelay(): string {
  const src = fs.statSync(SPLICE_SRC);
  const bin = fs.existsSync(SPLICE_BIN) ? fs.statSync(SPLICE_BIN) : null;
  if (bin === null || bin.mtimeMs < src.mtimeMs) {
    fs.mkdirSync(path.dirname(SPLICE_BIN), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', SPLICE_BIN, SPLICE_SRC], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return SPLICE_BIN;
}

function runLsptap(flag: string, logDir: string): { status: number | null; said: string } {
  const r = spawnSync(process.execPath, [LSPTAP, flag, '--log', path.join(logDir, 'probe.jsonl'), '--', 'true'], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, said: (r.stderr ?? '').trim().split('\n')[0] ?? '' };
}

/**
 * Ask lsptap itself about kernel timing: `--bpf=off` tells whether the flag exists (then
 * the kernel-off mode passes it, in case the default turns BPF on), `--bpf=require` whether
 * BPF loads here.
 */
export function probeKernelTiming(logDir: string): { flag: boolean; available: boolean; reason: string | null } {
  const off = runLsptap('--bpf=off', logDir);
  if (off.status !== 0) {
    const why = /Unknown option '--bpf'/.test(off.said) ? 'this lsptap has no --bpf flag yet' : off.said;
    return { flag: false, available: false, reason: `lsptap --bpf=off -- true exited ${off.status}: ${why}` };
  }
  const req = runLsptap('--bpf=require', logDir);
  if (req.status === 0) return { flag: true, available: true, reason: null };
  return { flag: true, available: false, reason: `lsptap --bpf=require -- true exited ${req.status}: ${req.said || 'no reason given'}` };
}

export function makeModes(logDir: string): Mode[] {
  let floorBin: string | null = null;
  let floorReason: string | null = null;
  try { floorBin = buildSpliceRelay(); } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    floorReason = `gcc could not build bench/splice-relay.c: ${(e.stderr?.toString() || e.message).trim().split('\n')[0]}`;
  }
  const kernel = probeKernelTiming(logDir);
  const lsptap = (extra: string[]) => (server: string[], logPath: string): string[] => [process.execPath, LSPTAP, ...extra, '--log', logPath, '--', ...server];
  return [
    { name: 'direct', about: 'the client talks to the server, no proxy', available: true, reason: null, proxied: false, wrap: (s) => s },
    { name: 'relay', about: 'plain Node byte relay (bench/plain-relay.ts): no framing, no logging', available: true, reason: null, proxied: true, wrap: (s) => [process.execPath, PLAIN_RELAY, ...s] },
    { name: 'floor', about: 'splice(2) relay in C (bench/splice-relay.c): no copies into user space', available: floorBin !== null, reason: floorReason, proxied: true, wrap: (s) => [floorBin ?? 'false', ...s] },
    { name: 'lsptap', about: 'lsptap logging to a file, kernel timing off', available: true, reason: null, proxied: true, wrap: lsptap(kernel.flag ? ['--bpf=off'] : []) },
    { name: 'lsptap-kernel', about: 'lsptap logging to a file, kernel timing on (--bpf=require), profiling off (--profile-hz 0)', available: kernel.available, reason: kernel.reason, proxied: true, wrap: lsptap(['--bpf=require', '--profile-hz', '0']) },
    { name: 'lsptap-profile', about: `the same with per-request profiles (--profile-hz ${BENCH_PROFILE_HZ}); the gopls workload only`, available: kernel.available, reason: kernel.reason, proxied: true, wrap: lsptap(['--bpf=require', '--profile-hz', String(BENCH_PROFILE_HZ)]) },
  ];
}
