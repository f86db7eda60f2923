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
import { bodyOf, readRecording, RecordingError, type Recording } from './recording';
import { expandLogSources } from '../report/log-sources';
import { RootRewrite, rootOf } from './root-rewrite';
import { replay, type ReplayResult } from './replayer';

export const REPLAY_COMMAND = {
  name: 'lsptap replay',
  synopsis: ['lsptap replay [options] LOG -- SERVER [ARGS...]'],
  about: "Plays the client side of a session recorded with --bodies to SERVER through lsptap (a new log, with kernel timing where it runs), answers the server's own requests with the recorded answers, and prints the comparison of the recording with the replay. LOG is a file or a directory (its *.jsonl files in name order, not subdirectories). Exit status: 0 the replay matched (every request answered, none failed that succeeded when recorded, the server exited 0); 1 it did not (the last line says why); 3 the recording is corrupt (lines cut or not JSON: the rest was replayed).",
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
    'grace-ms': whole('N', 3000, 'after the last message (exit), wait N ms for the server to leave, then SIGTERM, N ms more, then SIGKILL (default 3000)'),
    html: text('FILE', 'also write the comparison as an HTML page'),
  },
} as const satisfies CommandSpec;

/** Exit status when the recording has lines that could not be read (see REPLAY_COMMAND). */
export const EXIT_CORRUPT_RECORDING = 3;

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
  const initBody = init === undefined ? null : await bodyOf(init);
  const recordedRoot = initBody === null ? null : rootOf(initBody.params);
  if (v.root !== undefined && recordedRoot === null) throw new UsageError('lsptap replay: --root: the recording\'s initialize names no workspace root to rewrite');
  const rewrite = v.root !== undefined && recordedRoot !== null ? new RootRewrite(recordedRoot, v.root) : null;
  const cwd = v.root ?? (rec.cwd !== null && fs.existsSync(rec.cwd) ? rec.cwd : process.cwd());
  const logDir = v['log-dir'] ?? defaultLogDir(process.env);
  fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });

  const note = (s: string): void => { process.stderr.write(`${s}\n`); };
  const requests = rec.messages.filter((m) => m.kind === 'request').length;
  note(`lsptap replay: session ${rec.session} of ${source}: ${rec.messages.length} client message(s), ${requests} request(s), pace ${v.pace}${rewrite ? `, root ${recordedRoot} -> ${v.root}` : ''}`);
  if (rec.withoutBody.length > 0) {
    const first = rec.withoutBody[0];
    note(`lsptap replay: ${rec.withoutBody.length} client message(s) not replayed, their bodies are not in the log (first: ${first.method}${first.id === null ? '' : ` id ${first.id}`})`);
  }
  const result = await replay(rec, {
    server, logPath: v.log ?? null, logDir, bpf: v.bpf, bodies: v.bodies, pace: v.pace, rewrite, cwd,
    waitMs: v['wait-ms'], graceMs: v['grace-ms'], note,
  });
  process.stdout.write(resultText(result));
  if (result.logPath !== null) {
    const comparison = compareReports(await loadSide(files, null, rec.session), await loadSide([result.logPath], null));
    process.stdout.write(`\nA = the recording, B = the replay\n${formatDiffText(comparison)}`);
    if (v.html !== undefined) { fs.writeFileSync(v.html, renderDiffHtml(comparison)); note(`lsptap replay: wrote ${v.html}`); }
  }
  const verdict = verdictOf(rec, result);
  process.stdout.write(`\n${verdict.line}\n`);
  return verdict.exitCode;
}

/** The one summary line and the exit status (REPLAY_USAGE): a corrupt recording first, then what went wrong. */
export function verdictOf(rec: Pick<Recording, 'corruptLines' | 'firstCorrupt' | 'messages'>, r: ReplayResult): { line: string; exitCode: number } {
  if (rec.corruptLines > 0) {
    return {
      line: `replay: CORRUPT RECORDING: ${rec.corruptLines} line(s) could not be read (cut mid-line or not JSON; first at ${rec.firstCorrupt ?? '?'}); replayed the ${r.sent} of ${rec.messages.length} client message(s) that could`,
      exitCode: EXIT_CORRUPT_RECORDING,
    };
  }
  const why: string[] = [];
  if (r.regressed.length > 0) {
    const byMethod = new Map<string, number>();
    for (const x of r.regressed) byMethod.set(x.method, (byMethod.get(x.method) ?? 0) + 1);
    why.push(`${r.regressed.length} of ${r.requests} request(s) failed that succeeded when recorded (${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}; first: ${r.regressed[0].message})`);
  }
  if (r.unanswered.length > 0) why.push(`${r.unanswered.length} request(s) unanswered`);
  if (r.unreadable > 0) why.push(`${r.unreadable} message(s) could not be read back from the recording`);
  if (r.exitCode !== 0) why.push(`server exit code ${String(r.exitCode)}`);
  if (r.logPath === null) why.push('the replay\'s log was not found, no comparison');
  return why.length === 0 ? { line: 'replay: OK', exitCode: 0 } : { line: `replay: FAILED: ${why.join('; ')}`, exitCode: 1 };
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
