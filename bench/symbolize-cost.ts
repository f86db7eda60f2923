// `node dist/bench/symbolize-cost.js [BINARY [PCS [ARG...]]]`: the CPU one analysis thread
// spends to symbolize a live server once: read its maps, open the binary, find its tables
// and name PCS (default 1,000) program counters spread over its text, as a sampler's stacks
// would ask (return addresses, pc-1), and KERNEL_PCS kernel pcs (reading /proc/kallsyms,
// as every profile's kernel frames do). ARGs start BINARY as a server: gopls's `serve` by
// default; TypeScript 7's tsc wants `--lsp --stdio`. Issue 26's budget: <= 300 ms for
// Debian's gopls (`npm run bench -- --only symbolize` prints it beside the budget). Prints JSON.

import { spawn } from 'node:child_process';
import { ProcessMaps, Symbolizer } from '../src/symbols';

export interface SymbolizeCost { binary: string; pcs: number; named: number; kernelNamed: number; cpuMs: number; wallMs: number }

/** Kernel pcs named, spread over the kernel's text mapping (x86-64: the top 1 GiB below modules). */
const KERNEL_PCS = 200;
const KERNEL_TEXT = 0xffffffff80000000n;
const KERNEL_TEXT_BYTES = 0x40000000n;

/** Measures a cold Symbolizer on a running process (nothing cached before the call). */
export function symbolizeCost(pid: number, binary: string, count: number): SymbolizeCost {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const maps = ProcessMaps.read(pid);
  if (!maps) throw new Error(`process ${pid} is gone`);
  const text = maps.mappings.find((m) => m.file === binary);
  if (!text) throw new Error(`${binary} is not mapped executable in ${pid}`);
  const symbolizer = new Symbolizer();
  const span = text.limit - text.start;
  let named = 0;
  for (let i = 0; i < count; i++) {
    // A fixed stride through the text (deterministic); +1 so pc-1 stays in the mapping.
    const pc = text.start + 1n + (span * BigInt(i * 7919 % count)) / BigInt(count);
    if (symbolizer.user(maps, pc, true).symbol.fn !== null) named++;
  }
  let kernelNamed = 0;
  for (let i = 0; i < KERNEL_PCS; i++) if (symbolizer.kernel(KERNEL_TEXT + (KERNEL_TEXT_BYTES * BigInt(i)) / BigInt(KERNEL_PCS)).symbol.fn !== null) kernelNamed++;
  const cpu = process.cpuUsage(c0);
  return { binary, pcs: count, named, kernelNamed, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/** Starts binary as a server, measures symbolizeCost once it runs, and stops it. */
export async function symbolizeServer(binary: string, count: number, args: string[]): Promise<SymbolizeCost> {
  const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return symbolizeCost(child.pid!, binary, count);
  } finally {
    child.kill();
  }
}

if (require.main === module) {
  const binary = process.argv[2] ?? '/usr/bin/gopls';
  const count = Number(process.argv[3] ?? 1000);
  const args = process.argv.length > 4 ? process.argv.slice(4) : ['serve'];
  void symbolizeServer(binary, count, args).then((c) => process.stdout.write(`${JSON.stringify(c)}\n`));
}
