// `lsptap top [options] [LOG...]`: the live view. It reads the logs, not the processes, so
// it works for any number of sessions, for --listen daemons, and for sessions started before
// it. `q` or Ctrl-C quits; the terminal is restored on every way out.

import fs from 'node:fs';
import { flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../command/command-args';
import { defaultLogDir } from '../sinks/log-file';
import { LogTail } from './log-tail';
import { LiveState } from './live-state';
import { renderScreen } from './screen';
import { AnsiScreen } from './terminal';

export const TOP_COMMAND = {
  name: 'lsptap top',
  synopsis: ['lsptap top [options] [LOG...]'],
  about: 'Live view of lsptap sessions from their logs: requests in flight (oldest first), per method count, p50 and p99 over the last minute and since top started reading, errors and cancellations, and the last slow requests with their kernel breakdown. q quits.',
  positionals: true,
  splitAtDashes: false,
  options: {
    'log-dir': text('DIR', "follow every *.jsonl in DIR (default: lsptap's log directory); LOG arguments (files, or directories: their *.jsonl files, not subdirectories) are followed instead"),
    recent: text('T', 'in the directory, read files changed within T (30s, 15m, 2h) before the start from their beginning (default 15m; older ones from their end)'),
    'slow-ms': whole('N', 100, 'a request is slow from N ms (default 100)'),
    'interval-ms': whole('N', 250, 'refresh period in ms (default 250, at least 50)'),
    once: flag('print one frame to stdout and exit (no terminal needed)'),
  },
} as const satisfies CommandSpec;

const AGE = /^(\d+)(s|m|h)$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3 };

export async function runTop(argv: string[]): Promise<number> {
  const parsed = parseCommand(TOP_COMMAND, argv);
  if (parsed.help) return printUsage(TOP_COMMAND);
  const v = parsed.values;
  const recent = AGE.exec(v.recent ?? '15m');
  if (recent === null) throw usageError(TOP_COMMAND, `--recent needs an age like 30s, 15m, 2h; got ${JSON.stringify(v.recent)}`);
  const slowMs = v['slow-ms'];
  const intervalMs = Math.max(50, v['interval-ms']);
  const isDir = (s: string): boolean => fs.statSync(s, { throwIfNoEntry: false })?.isDirectory() === true;
  const dirs = parsed.positionals.length > 0 ? parsed.positionals.filter(isDir) : [v['log-dir'] ?? defaultLogDir(process.env)];
  const files = parsed.positionals.filter((s) => !isDir(s));
  const tail = new LogTail(dirs, files, { recentMs: Number(recent[1]) * UNIT_MS[recent[2]] });
  const state = new LiveState(slowMs);
  const step = (): void => {
    const batch = tail.poll();
    for (const l of batch.lines) state.add(l.value, l.source);
    for (const g of batch.gone) state.logGone(g);
  };
  const frame = (cols: number, rows: number): string[] => renderScreen(state, { nowMs: Date.now(), cols, rows, sources: tail.followed, slowMs, skippedLines: tail.skippedLines });

  if (v.once || !process.stdout.isTTY) {
    if (!v.once) throw usageError(TOP_COMMAND, 'stdout is not a terminal; use --once for one frame');
    step();
    tail.close();
    process.stdout.write(frame(process.stdout.columns || 80, process.stdout.rows || 24).join('\n') + '\n');
    return 0;
  }

  const screen = new AnsiScreen(process.stdout);
  return new Promise<number>((resolve) => {
    const timer = setInterval(() => { step(); screen.draw(frame(screen.cols, screen.rows)); }, intervalMs);
    const quit = (code: number): void => {
      clearInterval(timer);
      tail.close();
      screen.close();
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
      resolve(code);
    };
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.on('data', (d: Buffer) => {
      const key = d.toString();
      if (key === 'q' || key === 'Q' || key === '\x03') quit(0);
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => quit(sig === 'SIGINT' ? 0 : 1));
    step();
    screen.draw(frame(screen.cols, screen.rows));
  });
}
