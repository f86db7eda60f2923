// `lsptap replay [options] LOG -- SERVER...`: play a recorded session's client side to a new
// server through lsptap, then compare the recording with the replay per method.

import fs from 'node:fs';
import { UsageError } from '../model/errors';
import { choice, flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../command/command-args';
import { defaultLogDir } from '../sinks/log-file';
import { compareReports } from '../diff/compare';
import { formatDiffText } from '../diff/format-diff';
import { renderDiffHtml } from '../diff/diff-html';
import { loadSide } from '../diff/diff-command';
import { readRecording, RecordingError } from './recording';
import { expandLogSources } from '../report/log-sources';
import { RootRewrite, rootOf } from './root-rewrite';
import { replay, type ReplayResult } from './replayer';

export const REPLAY_COMMAND = {
  name: 'lsptap replay',
  synopsis: ['lsptap replay [options] LOG -- SERVER [ARGS...]'],
  about: "Plays the client side of a session recorded with --bodies to SERVER through lsptap (a new log, with kernel timing where it runs), answers the server's own requests with the recorded answers, and prints the comparison of the recording with the replay. LOG is a file or a directory (its *.jsonl files in name order, not subdirectories).",
  positionals: true,
  splitAtDashes: true,
  options: {
    pace: choice('P', ['recorded', 'asap'] as const, 'recorded', "recorded (default): each message waits for the responses it followed in the recording, then the editor's recorded think time; asap: only for the responses"),
    root: text('DIR', 'the workspace root is DIR (rootUri, workspaceFolders, every file:// URI and path under the recorded root)'),
    session: text('ID', 'which session of LOG (default: the first with bodies)'),
    log: text('PATH', "the replay's log (default: a new file in the log directory)"),
    'log-dir': text('DIR', "directory for that file (default as lsptap's --log-dir)"),
    bpf: choice('MODE', ['auto', 'off', 'require'] as const, 'auto', 'kernel timing for the replay: auto (default), off, require'),
    bodies: flag("log the replay's bodies too (so it can be replayed in turn)"),
    'wait-ms': whole('N', 300000, 'longest wait for one awaited response, in ms (default 300000)'),
    html: text('FILE', 'also write the comparison as an HTML page'),
  },
} as const satisfies CommandSpec;

export async function runReplay(argv: string[]): Promise<number> {
  const parsed = parseCommand(REPLAY_COMMAND, argv);
  if (parsed.help) return printUsage(REPLAY_COMMAND);
  const v = parsed.values;
  const server = parsed.afterDashes ?? [];
  if (parsed.positionals.length !== 1) throw usageError(REPLAY_COMMAND, 'give one recorded LOG');
  if (server.length === 0) throw usageError(REPLAY_COMMAND, 'no server command; put it after --, e.g. lsptap replay session.jsonl -- gopls');
  if (v.root !== undefined && !fs.statSync(v.root, { throwIfNoEntry: false })?.isDirectory()) throw usageError(REPLAY_COMMAND, `--root ${v.root} is not a directory`);
  const source = parsed.positionals[0];
  const files = expandLogSources('replay', [source]);

  let rec;
  try { rec = await readRecording(source, files, v.session ?? null); } catch (err) {
    if (err instanceof RecordingError) throw new UsageError(err.message);
    throw new UsageError(`lsptap replay: cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const init = rec.messages.find((m) => m.method === 'initialize');
  const recordedRoot = init === undefined ? null : rootOf(init.body.params);
  if (v.root !== undefined && recordedRoot === null) throw new UsageError('lsptap replay: --root: the recording\'s initialize names no workspace root to rewrite');
  const rewrite = v.root !== undefined && recordedRoot !== null ? new RootRewrite(recordedRoot, v.root) : null;
  const cwd = v.root ?? (rec.cwd !== null && fs.existsSync(rec.cwd) ? rec.cwd : process.cwd());
  const logDir = v['log-dir'] ?? defaultLogDir(process.env);
  fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });

  const note = (s: string): void => { process.stderr.write(`${s}\n`); };
  const requests = rec.messages.filter((m) => m.kind === 'request').length;
  note(`lsptap replay: session ${rec.session} of ${source}: ${rec.messages.length} client message(s), ${requests} request(s), pace ${v.pace}${rewrite ? `, root ${recordedRoot} -> ${v.root}` : ''}`);
  for (const m of rec.withoutBody) note(`lsptap replay: not replayed, its body is not in the log: ${m.method}${m.id === null ? '' : ` (id ${m.id})`}`);
  const result = await replay(rec, {
    server, logPath: v.log ?? null, logDir, bpf: v.bpf, bodies: v.bodies, pace: v.pace, rewrite, cwd,
    waitMs: v['wait-ms'], note,
  });
  process.stdout.write(resultText(result));
  if (result.logPath === null) { note('lsptap replay: the replay\'s log was not found; no comparison'); return 1; }
  const comparison = compareReports(await loadSide(files, null, rec.session), await loadSide([result.logPath], null));
  process.stdout.write(`\nA = the recording, B = the replay\n${formatDiffText(comparison)}`);
  if (v.html !== undefined) { fs.writeFileSync(v.html, renderDiffHtml(comparison)); note(`lsptap replay: wrote ${v.html}`); }
  return result.unanswered.length === 0 && result.exitCode === 0 ? 0 : 1;
}

function resultText(r: ReplayResult): string {
  const lines = [
    `replayed ${r.sent} message(s) in ${(r.durationMs / 1000).toFixed(1)} s: ${r.requests} request(s), ${r.answered} answered (${r.errors} with an error), ${r.unanswered.length} unanswered`,
    `server's own requests: ${r.serverRequests}, answered from the recording${r.unrecorded.length > 0 ? `; with null for ${r.unrecorded.length} it had no answer for (${[...new Set(r.unrecorded)].join(', ')})` : ''}`,
    `server exit code ${String(r.exitCode)}; replay log ${r.logPath ?? '(not found)'}`,
  ];
  if (r.waitsTimedOut > 0) lines.push(`${r.waitsTimedOut} awaited response(s) did not come within --wait-ms; sent on regardless`);
  for (const u of r.unanswered.slice(0, 20)) lines.push(`  unanswered: ${u.method} (id ${String(u.id)})`);
  return lines.join('\n') + '\n';
}
