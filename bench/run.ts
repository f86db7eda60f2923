// `npm run bench [-- --json] [--save PATH] [--write-docs] [--quick] [--repeats N] [--only W,...] [--modes M,...]`
// Runs every workload over every mode, interleaved (each repeat visits the modes in a
// rotated order, so machine noise hits all alike), then prints the table and the budget
// lines (stdout), or a JSON document with --json (--save PATH writes that document to a
// file as well as printing the table; --write-docs puts the figures users quote, dated,
// in docs/benchmarks.md). Progress goes to stderr. Two workloads have rounds of their own:
// `first-answer` (its arms interleaved, FIRST_ANSWER_ROUNDS rounds) and `tax` (dd alone,
// then beside an idle kernel-timed session, TAX_ROUNDS rounds).
// Budgets are reported, never enforced by the exit code: a busy machine is not a failure.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../src/command/command-args';
import { goRootSrc } from '../src/demo/gopls-script';
import { VERSION } from '../src/model/version';
import { GOPLS_ONLY_MODES, makeModes, MODE_NAMES, type Mode, type ModeName } from './modes';
import { symbolizeServer } from './symbolize-cost';
import { DAY_WORKLOAD, checkBudgets, formatTable, summarise, type Runs } from './report';
import { DAY_MESSAGES, DAY_MESSAGES_QUICK, editingDay } from './day';
import { didOpenOf } from './echo-client';
import { FULL_SIZES, QUICK_SIZES, goplsSession, large, latency, throughput, type RunFigures, type WorkloadSizes } from './workloads';
import { spawnSync } from 'node:child_process';
import { makeShim, startup } from './startup';
import { firstAnswers, oneFileModule } from './first-answer';
import { syscallTax, taxFloorAvailable } from './syscall-tax';
import { DOCS_FILE, formatDocsTable, writeDocsTable } from './docs-table';

const WORKLOADS = ['first-answer', 'tax', 'startup', 'latency', 'throughput', 'large', 'gopls', 'day', 'symbolize'] as const;
/** Issue 27's measures: 8 rounds of the first answer, 3 of the syscall tax (1 each with --quick). */
const FIRST_ANSWER_ROUNDS = 8;
const TAX_ROUNDS = 3;
/** dd's one-byte copies in the tax workload: 4 M syscalls (400 k with --quick). */
const TAX_COPIES = 2_000_000;

const BENCH_COMMAND = {
  name: 'bench',
  synopsis: ['npm run bench -- [OPTION...]'],
  about: 'Time lsptap against a direct connection and a plain relay in one run, and print each figure beside its budget, PASS or FAIL.',
  options: {
    json: flag('print the results as JSON'),
    save: text('PATH', 'also write the JSON results to PATH'),
    'write-docs': flag('write the dated table of current figures into docs/benchmarks.md'),
    quick: flag('small sizes and one repeat: a smoke run, not figures to quote'),
    repeats: whole('N', null, 'repeat each workload N times (default 5, 1 with --quick)', 1),
    only: text('W,...', `run only these workloads: ${WORKLOADS.join(',')}`),
    modes: text('M,...', `run only these modes: ${MODE_NAMES.join(',')}`),
    'day-messages': whole('N', null, `messages in the editing day (default ${DAY_MESSAGES}, ${DAY_MESSAGES_QUICK} with --quick)`, 40_000),
  },
  positionals: false,
  splitAtDashes: false,
} satisfies CommandSpec;

function usage(msg: string): never {
  process.stderr.write(usageError(BENCH_COMMAND, msg).message);
  process.exit(2);
}

function listOption<T extends string>(value: string | undefined, all: readonly T[], name: string): T[] {
  if (value === undefined) return [...all];
  const picked = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of picked) if (!(all as readonly string[]).includes(p)) usage(`unknown ${name} ${JSON.stringify(p)}`);
  return picked as T[];
}

function machine(): Record<string, unknown> {
  const uname = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  const gopls = spawnSync('gopls', ['version'], { encoding: 'utf8' });
  return {
    nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', kernel: uname, memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, gopls: gopls.status === 0 ? gopls.stdout.trim().split('\n').join(' ') : null, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** gopls's path (the symbolizer finds the binary mapped by its real path). */
function goplsPath(): string {
  const which = spawnSync('sh', ['-c', 'command -v gopls'], { encoding: 'utf8' }).stdout.trim();
  try { return fs.realpathSync(which); } catch { return which; }
}

const sizeName = (bytes: number): string => `large ${bytes / 1e6} MB`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCommand(BENCH_COMMAND, process.argv.slice(2));
  } catch (err) { process.stderr.write((err as Error).message); process.exit(2); }
  if (parsed.help) process.exit(printUsage(BENCH_COMMAND));
  const v = parsed.values;
  const quick = v.quick;
  const repeats = v.repeats ?? (quick ? 1 : 5);
  const only = listOption(v.only, WORKLOADS, 'workload');
  const wantModes = listOption(v.modes, MODE_NAMES, 'mode');
  const sizes: WorkloadSizes = quick ? QUICK_SIZES : FULL_SIZES;
  const say = (s: string): void => { process.stderr.write(`bench: ${s}\n`); };

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-bench-'));
  const modes: Mode[] = makeModes(tmp).filter((m) => wantModes.includes(m.name));
  for (const m of modes) if (!m.available) say(`mode ${m.name} not available: ${m.reason}`);
  const active = modes.filter((m) => m.available);
  const srcRoot = goRootSrc();
  const goplsOk = spawnSync('gopls', ['version']).status === 0;
  if (only.includes('gopls') && !goplsOk) say('gopls not found: the gopls workload is skipped (apt-get install gopls golang-go)');
  const largeFrames = only.includes('large') ? sizes.largeBytes.map((b) => ({ name: sizeName(b), bytes: b, frame: didOpenOf(b) })) : [];

  const shim = makeShim(tmp);
  const runs: Runs = new Map();
  const record = (workload: string, mode: ModeName, f: RunFigures): void => {
    if (!runs.has(workload)) runs.set(workload, new Map(active.map((m) => [m.name, []])));
    const byMode = runs.get(workload)!;
    if (!byMode.has(mode)) byMode.set(mode, []);
    byMode.get(mode)!.push(f);
  };
  let session = 0;
  const logPath = (): string => path.join(tmp, `session-${++session}.jsonl`);
  const started = Date.now();
  say(`${repeats} repeat(s) of ${only.join(', ')} over ${active.map((m) => m.name).join(', ')}${quick ? ' (quick)' : ''}`);

  if (only.includes('first-answer')) {
    // Issue 27: spawn to `initialize` answered, gopls on a one-file module.
    if (!goplsOk) say('gopls not found: the first-answer workload is skipped');
    else {
      const arms = active.filter((m) => m.name !== 'floor' && !GOPLS_ONLY_MODES.includes(m.name)).map((m) => ({ name: m.name, cmd: m.wrap(['gopls'], logPath()) }));
      const got = await firstAnswers(arms, oneFileModule(tmp), quick ? 1 : FIRST_ANSWER_ROUNDS, say);
      for (const [name, ms] of got) for (const x of ms) record('first answer', name as ModeName, { firstAnswerMs: x });
    }
  }
  const kernelMode = active.find((m) => m.name === 'lsptap-kernel');
  if (only.includes('tax') && kernelMode !== undefined) {
    const copies = quick ? TAX_COPIES / 10 : TAX_COPIES;
    const noFloor = taxFloorAvailable();
    if (noFloor !== null) say(`tax: the floor (dd beside empty programs) is not measured: ${noFloor}`);
    for (let r = 0; r < (quick ? 1 : TAX_ROUNDS); r++) {
      const log = logPath();
      const t = await syscallTax(kernelMode, log, copies, noFloor === null);
      fs.rmSync(log, { force: true });
      // ns per syscall: dd makes two per copy. Under `floor`: beside empty programs on
      // sys_enter/sys_exit, what any program there costs (bench/tax-floor.ts).
      const perSyscall = (ms: number): number => (ms * 1e6) / (2 * copies);
      const arms = [['direct', t.alone], ['floor', t.floor], ['lsptap-kernel', t.beside]] as const;
      for (const [name, a] of arms) {
        if (a === null) continue;
        record('tax (dd)', name, { nsPerSyscall: perSyscall(a.ddMs) });
        if (a.loopNs !== null) record('tax (loop)', name, { nsPerSyscall: a.loopNs });
      }
      say(`tax round ${r + 1}: dd ${t.alone.ddMs} ms CPU alone, ${t.floor?.ddMs ?? '-'} ms beside empty programs, ${t.beside.ddMs} ms beside an idle kernel-timed session; ` +
        `the loop's read/write ${t.alone.loopNs?.toFixed(0) ?? '-'}, ${t.floor?.loopNs?.toFixed(0) ?? '-'}, ${t.beside.loopNs?.toFixed(0) ?? '-'} ns`);
    }
  }
  if (only.includes('day')) {
    // One day, not repeated: on lsptap-kernel (the issue asks for kernel timing on), or on
    // lsptap where kernel timing is not available or not among --modes.
    const mode = active.find((m) => m.name === 'lsptap-kernel') ?? active.find((m) => m.name === 'lsptap');
    if (mode === undefined) say('the editing day needs mode lsptap-kernel or lsptap: skipped');
    else {
      const log = logPath();
      const messages = v['day-messages'] ?? (quick ? DAY_MESSAGES_QUICK : DAY_MESSAGES);
      say(`editing day: ${messages} messages through ${mode.name}`);
      record(DAY_WORKLOAD, mode.name, await editingDay(mode, log, messages, say));
      fs.rmSync(log, { force: true });
    }
  }
  const perRepeat = only.filter((w) => w !== 'first-answer' && w !== 'tax' && w !== 'day' && w !== 'symbolize');
  for (let rep = 0; rep < repeats && perRepeat.length > 0; rep++) {
    // Rotate the order of modes each repeat so none always runs first or last.
    const order = active.map((_, i) => active[(i + rep) % active.length]);
    for (const w of perRepeat) {
      for (const mode of order) {
        if (GOPLS_ONLY_MODES.includes(mode.name) && w !== 'gopls') continue;
        const log = logPath();
        const t0 = Date.now();
        if (w === 'startup') record('startup', mode.name, startup(mode, log, sizes, shim, goplsOk));
        else if (w === 'latency') record('latency', mode.name, await latency(mode, log, sizes));
        else if (w === 'throughput') record('throughput', mode.name, await throughput(mode, log, sizes));
        else if (w === 'large') for (const l of largeFrames) record(l.name, mode.name, await large(mode, log, l.frame));
        else if (w === 'gopls') { if (goplsOk) record('gopls', mode.name, await goplsSession(mode, log, srcRoot)); }
        fs.rmSync(log, { force: true });
        say(`repeat ${rep + 1}/${repeats} ${w.padEnd(10)} ${mode.name.padEnd(13)} ${Date.now() - t0} ms`);
      }
    }
  }
  if (only.includes('symbolize')) {
    // Issue 26: a cold Symbolizer naming a running gopls once (in this process, as on the
    // analysis thread), one round per repeat.
    if (!goplsOk) say('gopls not found: the symbolize workload is skipped');
    else {
      for (let rep = 0; rep < repeats; rep++) {
        const c = await symbolizeServer(goplsPath(), 1000, ['serve']);
        record('symbolize gopls', 'lsptap-profile', { symbolizeCpuMs: c.cpuMs });
        say(`symbolize round ${rep + 1}: ${c.cpuMs.toFixed(0)} ms CPU, ${c.named}/${c.pcs} pcs named, ${c.kernelNamed} kernel pcs`);
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  const reports = summarise(runs);
  const biggest = largeFrames.length > 0 ? largeFrames[largeFrames.length - 1] : null;
  const budgets = checkBudgets(reports, modes, biggest?.name ?? null, biggest?.bytes ?? 0);
  const doc = {
    lsptapVersion: VERSION, date: new Date().toISOString(), durationS: Math.round((Date.now() - started) / 1000), machine: machine(),
    options: { quick, repeats, workloads: only, sizes },
    modes: modes.map((m) => ({ name: m.name, about: m.about, available: m.available, reason: m.reason })),
    results: reports, budgets,
  };
  if (v.save !== undefined) fs.writeFileSync(v.save, `${JSON.stringify(doc, null, 2)}\n`);
  if (v['write-docs'] === true) {
    const m = machine();
    const about = `${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, load ${(m.loadavg as number[]).join(' ')} at the end`;
    writeDocsTable(DOCS_FILE, formatDocsTable(budgets, doc.date.slice(0, 10), about, process.argv.slice(2).join(' ')));
    say(`wrote the figures into ${DOCS_FILE}`);
  }
  if (v.json === true) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const m = machine();
    process.stdout.write(`lsptap ${VERSION} benchmark, ${repeats} repeat(s)${quick ? ', quick' : ''}; median ±half-range over repeats\n`);
    process.stdout.write(`machine: ${m.nproc} CPUs, ${m.cpu}, Linux ${m.kernel}, node ${m.node}, load ${(m.loadavg as number[]).join(' ')}\n\n`);
    process.stdout.write(formatTable(reports, modes, budgets));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
