// `node dist/bench/top-idle.js [--files 1,2001,50001] [--seconds 60]`: the CPU `lsptap top`
// uses watching a log directory where nothing happens, for directories of each size. The
// logs are one-line sessions last changed a day ago (a month of finished sessions); top
// runs under script(1), which gives it the terminal it needs, and its CPU (user+sys, from
// /proc) is read over --seconds after its start-up has settled (two full rescans at 60 s).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuUs, memoryKb } from './proc-stats';

const LSPTAP = path.join(__dirname, '..', '..', 'bin', 'lsptap');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The first child of pid (script's child is top itself: `exec`), once it exists. */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter((s) => s.length > 0);
      if (kids.length > 0) return Number(kids[0]);
    } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error('script(1) started no child');
}

interface Idle { files: number; startupCpuMs: number; idleCpuPct: number; rssMb: number }

async function measure(files: number, seconds: number): Promise<Idle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-top-idle-'));
  try {
    const dayAgo = new Date(Date.now() - 86_400_000);
    for (let i = 0; i < files; i++) {
      const f = path.join(dir, `lsptap-${String(i).padStart(6, '0')}.jsonl`);
      fs.writeFileSync(f, `${JSON.stringify({ level: 30, time: dayAgo.getTime(), session: `s${i}`, startTime: dayAgo.toISOString(), msg: 'session start' })}\n`);
      fs.utimesSync(f, dayAgo, dayAgo);
    }
    const cmd = `exec ${process.execPath} ${LSPTAP} top --log-dir ${dir}`;
    const script = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const pid = await childOf(script.pid!);
      await sleep(5_000); // start-up: the first listing and a stat of every log
      const startupCpuMs = (cpuUs(pid) ?? NaN) / 1000;
      const t0 = process.hrtime.bigint();
      await sleep(seconds * 1000);
      const usedUs = (cpuUs(pid) ?? NaN) - startupCpuMs * 1000;
      const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
      return { files, startupCpuMs, idleCpuPct: 100 * usedUs / wallUs, rssMb: (memoryKb(pid)?.rssKb ?? NaN) / 1024 };
    } finally {
      script.stdin.end('q');
      script.kill('SIGTERM');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { files: { type: 'string', default: '1,2001,50001' }, seconds: { type: 'string', default: '60' } } });
  const seconds = Number(values.seconds);
  process.stdout.write(`lsptap top, idle, over ${seconds} s (CPU: user+sys of its process, 10 ms ticks)\n`);
  process.stdout.write(`${'logs'.padStart(7)} ${'idle CPU'.padStart(12)} ${'start-up CPU'.padStart(13)} ${'RSS'.padStart(8)}\n`);
  for (const files of values.files.split(',').map(Number)) {
    const r = await measure(files, seconds);
    process.stdout.write(`${String(r.files).padStart(7)} ${`${r.idleCpuPct.toFixed(2)} %`.padStart(12)} ${`${r.startupCpuMs.toFixed(0)} ms`.padStart(13)} ${`${r.rssMb.toFixed(0)} MB`.padStart(8)}\n`);
  }
}

void main();
