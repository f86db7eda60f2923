// The editing day: eight hours of one developer's editor traffic, compressed into minutes,
// through one lsptap session to bench/day-server.ts. Each keystroke is a didChange; every
// second one asks for completion, and one completion in ten is cancelled by the next
// keystroke (the server answers RequestCancelled); every fifth keystroke hovers, every 25th
// goes to a definition, every 100th saves, every 2,000th opens another file (20 KB) and
// closes the last; the server publishes diagnostics after every second change. At most
// WINDOW requests wait for an answer, as an editor's typing would allow. A day is ~2 M
// messages: a developer typing ~250 keystrokes a minute for 8 hours makes ~120,000
// keystrokes, about a million messages with a server's answers, and a busy day twice that.
//
// Figures: lsptap's RSS at each tenth of the day (flat means the second half grows ≤ 10 %),
// log bytes per message, and lsptap's CPU per message over the first and the second half,
// each read once the log holds the half's last answer (the analysis runs behind the relay).

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { WireReader, frameOf } from './lsp-wire';
import { waitUntilLogged } from './log-lag';
import { cpuUs, memoryKb } from './proc-stats';
import type { Mode } from './modes';
import type { RunFigures } from './workloads';

export const DAY_SERVER = [process.execPath, path.join(__dirname, 'day-server.js')];
export const DAY_MESSAGES = 2_000_000;
export const DAY_MESSAGES_QUICK = 100_000;
/** Requests in flight at most. */
const WINDOW = 16;
/** Messages before the day's first measurement: start-up and the JIT's warm-up. */
const WARMUP_MESSAGES = 20_000;
const FILES = 40;

const uri = (file: number): string => `file:///day/pkg${file % 8}/file${file}.go`;

function didOpen(file: number): Buffer {
  const line = '\\tif err := s.handle(ctx, req); err != nil {\\n\\t\\treturn fmt.Errorf(\\"handle %s: %w\\", req.Method, err)\\n\\t}\\n';
  return frameOf(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"${uri(file)}","languageId":"go","version":1,"text":"package pkg\\n\\n${line.repeat(Math.ceil(20_000 / line.length))}"}}}`);
}

interface Doc { file: number; version: number; line: number; col: number }

/** A point of the day where everything sent was answered and logged. */
interface Settled { cpuUs: number; rssMb: number; logBytes: number; messages: number }

export interface DayProgress { (what: string): void }

/** One editing day through mode (an lsptap mode) with `messages` messages in all. */
export async function editingDay(mode: Mode, logPath: string, messages: number, say: DayProgress): Promise<RunFigures> {
  const cmd = mode.wrap(DAY_SERVER, logPath);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString(); });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const pid = child.pid!;
  let sent = 0;
  let received = 0;
  let cancelledAnswers = 0;
  let lastAnswered = 0;
  const waiting = new Set<number>();
  let wake: (() => void) | null = null;
  const reader = new WireReader((body) => {
    received++;
    if (body === null) return;
    const head = body.toString('latin1', 0, Math.min(body.length, 48));
    const m = /^\{"jsonrpc":"2\.0","id":(\d+),"(result|error)"/.exec(head);
    if (m === null) return;
    const id = Number(m[1]);
    waiting.delete(id);
    lastAnswered = Math.max(lastAnswered, id);
    if (m[2] === 'error') cancelledAnswers++;
    if (wake !== null && waiting.size < WINDOW) { const w = wake; wake = null; w(); }
  }, 64 * 1024);
  child.stdout.on('data', (c: Buffer) => reader.push(c));
  child.stdin.on('error', () => { /* reported through the exit code */ });

  const frames: Buffer[] = [];
  const send = (f: Buffer): void => { frames.push(f); sent++; };
  let id = 0;
  const request = (method: string, params: string): number => {
    id++;
    waiting.add(id);
    send(frameOf(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`));
    return id;
  };
  const flush = async (): Promise<void> => {
    const ok = child.stdin.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
    frames.length = 0;
    if (!ok) await new Promise((r) => child.stdin.once('drain', r));
  };
  const room = async (): Promise<void> => {
    while (waiting.size >= WINDOW) await new Promise<void>((r) => { wake = r; });
  };
  const quiet = async (): Promise<void> => {
    while (waiting.size > 0) await new Promise<void>((r) => { wake = r; setTimeout(r, 5); });
  };

  /** Everything answered and logged: the point at which CPU and RSS are read. */
  const settle = async (): Promise<Settled> => {
    await flush();
    await quiet();
    if (await waitUntilLogged(logPath, lastAnswered) === null) throw new Error(`editing day: the answer to ${lastAnswered} never reached the log`);
    return { cpuUs: cpuUs(pid) ?? NaN, rssMb: (memoryKb(pid)?.rssKb ?? NaN) / 1024, logBytes: fs.statSync(logPath).size, messages: sent + received };
  };

  try {
    request('initialize', '{"processId":null,"rootUri":"file:///day","capabilities":{}}');
    send(frameOf('{"jsonrpc":"2.0","method":"initialized","params":{}}'));
    for (let f = 0; f < 4; f++) send(didOpen(f));
    await flush();
    const doc: Doc = { file: 3, version: 1, line: 10, col: 0 };
    let keystroke = 0;
    const position = (): string => `"position":{"line":${doc.line},"character":${doc.col}}`;
    const td = (): string => `"textDocument":{"uri":"${uri(doc.file)}"}`;
    const type = (): void => {
      keystroke++;
      doc.version++;
      doc.col = (doc.col + 1) % 80;
      if (doc.col === 0) doc.line++;
      send(frameOf(`{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"${uri(doc.file)}","version":${doc.version}},"contentChanges":[{"range":{"start":{"line":${doc.line},"character":${doc.col}},"end":{"line":${doc.line},"character":${doc.col}}},"rangeLength":0,"text":"${String.fromCharCode(97 + (keystroke % 26))}"}]}}`));
    };
    const marks: { at: number; rssMb: number }[] = [];
    let start: Settled | null = null;
    const at: { mid: Settled | null; end: Settled | null } = { mid: null, end: null };
    let nextTenth = 1;
    const t0 = Date.now();
    for (;;) {
      await room();
      if (keystroke % 64 === 0) await new Promise((r) => setImmediate(r)); // let answers in
      type();
      if (keystroke % 2 === 0) {
        const c = request('textDocument/completion', `{${td()},${position()},"context":{"triggerKind":1}}`);
        if (keystroke % 20 === 0) {
          // The user typed on before the list came: the editor cancels it.
          type();
          send(frameOf(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":${c}}}`));
        }
      }
      if (keystroke % 5 === 0) request('textDocument/hover', `{${td()},${position()}}`);
      if (keystroke % 25 === 0) request('textDocument/definition', `{${td()},${position()}}`);
      if (keystroke % 100 === 0) send(frameOf(`{"jsonrpc":"2.0","method":"textDocument/didSave","params":{${td()}}}`));
      if (keystroke % 2000 === 0) {
        send(frameOf(`{"jsonrpc":"2.0","method":"textDocument/didClose","params":{${td()}}}`));
        doc.file = (doc.file + 1) % FILES;
        doc.version = 1;
        send(didOpen(doc.file));
      }
      await flush();
      const done = sent + received;
      if (start === null && done >= WARMUP_MESSAGES) { start = await settle(); marks.push({ at: 0, rssMb: start.rssMb }); }
      if (start === null) continue;
      const measured = done - start.messages;
      const span = messages - start.messages;
      if (measured >= (nextTenth * span) / 10) {
        const point = nextTenth === 5 || nextTenth === 10 ? await settle() : null;
        if (nextTenth === 5) at.mid = point;
        if (nextTenth === 10) at.end = point;
        marks.push({ at: nextTenth * 10, rssMb: point?.rssMb ?? (memoryKb(pid)?.rssKb ?? NaN) / 1024 });
        say(`day ${nextTenth * 10} %: ${done} messages in ${((Date.now() - t0) / 1000).toFixed(0)} s, lsptap RSS ${marks[marks.length - 1].rssMb.toFixed(1)} MB`);
        if (nextTenth === 10) break;
        nextTenth++;
      }
    }
    const wallS = (Date.now() - t0) / 1000;
    send(frameOf('{"jsonrpc":"2.0","id":0,"method":"shutdown"}'));
    send(frameOf('{"jsonrpc":"2.0","method":"exit"}'));
    await flush();
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`editing day: ${cmd.join(' ')} exited ${code}: ${stderr.trim()}`);
    const { mid, end } = at;
    if (start === null || mid === null || end === null) throw new Error('editing day: too few messages to measure (at least 40,000)');
    const figures: RunFigures = {
      messages: end.messages, wallS, keystrokes: keystroke, cancelledPct: (100 * cancelledAnswers) / id,
      logBytesPerMsg: fs.statSync(logPath).size / (sent + received),
      cpuPerMsgUsFirstHalf: (mid.cpuUs - start.cpuUs) / (mid.messages - start.messages),
      cpuPerMsgUsSecondHalf: (end.cpuUs - mid.cpuUs) / (end.messages - mid.messages),
      rssGrowthSecondHalfPct: (100 * (Math.max(...marks.filter((m) => m.at >= 50).map((m) => m.rssMb)) - mid.rssMb)) / mid.rssMb,
    };
    for (const m of marks) figures[`rssMb at ${m.at} %`] = m.rssMb;
    return figures;
  } finally {
    child.kill('SIGKILL');
  }
}
