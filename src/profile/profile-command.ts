// `lsptap profile [options] LOG...`: the per-request profiles a session kept (its profile
// file, named by `session end`'s profileFile) as a gzipped pprof file (-o) or, without -o,
// the top functions as text.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import os from 'node:os';
import { choice, flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../command/command-args';
import { Redactor, redactionRoots } from '../model/redaction';
import { redactSamples, workspacesOf } from './redact-samples';
import { UsageError } from '../model/errors';
import { PROFILE_FILE_SUFFIX, WAIT_CAUSES, profileFileFor, type ProfileKind, type ProfileSample, type WaitCause } from '../model/profile-file';
import { topFunctions } from '../model/profile-top';
import { leafOnlyBinaries, leafOnlyText } from '../model/leaf-stacks';
import { encodePprof } from './pprof-profile';
import { emptyProfileData, readProfileFile } from './profile-reader';

export const PROFILE_COMMAND = {
  name: 'lsptap profile',
  synopsis: ['lsptap profile [options] LOG...'],
  about: `The server's CPU (or wait) profile of the requests a session saw, from the profile file kept beside its log. LOG is a session log (its \`session end\` names the profile file), a *${PROFILE_FILE_SUFFIX} file, or a directory (its logs and profile files, not subdirectories). Without -o, prints the top functions by flat time, with cumulative shares.`,
  positionals: true,
  splitAtDashes: false,
  options: {
    method: text('M', 'only requests of method M'),
    id: text('ID', 'only the request with id ID'),
    slowest: whole('N', null, 'only the N slowest requests (by latency from the logs; by sampled time when given only profile files)', 1),
    kind: choice('K', ['cpu', 'wait'] as const, 'cpu', 'cpu (default: time on CPU) or wait (time blocked)'),
    cause: text('C', `only time blocked on C (sets --kind wait): ${WAIT_CAUSES.join(', ')} (docs/profiles.md)`),
    output: text('FILE', 'write a gzipped pprof profile (go tool pprof, speedscope) to FILE; its samples carry labels method and id (go tool pprof -tagfocus id=12), wait samples cause too', 'o'),
    redact: flag('replace paths under the sessions\' workspaces (from the logs) and home directories with placeholders (<workspace>/a1.go) in binaries\' and source files\' names'),
  },
} as const satisfies CommandSpec;

const TOP_ROWS = 20;

export interface ProfileArgs {
  sources: string[];
  method: string | null;
  id: string | null;
  slowest: number | null;
  kind: ProfileKind;
  /** Only wait samples of this cause (--cause implies --kind wait). */
  cause: WaitCause | null;
  output: string | null;
  redact: boolean;
  help: boolean;
}

export function parseProfileArgs(argv: string[]): ProfileArgs {
  const parsed = parseCommand(PROFILE_COMMAND, argv);
  if (parsed.help) return { sources: [], method: null, id: null, slowest: null, kind: 'cpu', cause: null, output: null, redact: false, help: true };
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw usageError(PROFILE_COMMAND, 'no LOG given');
  const cause = v.cause ?? null;
  if (cause !== null && !(WAIT_CAUSES as readonly string[]).includes(cause)) throw usageError(PROFILE_COMMAND, `--cause needs one of ${WAIT_CAUSES.join(', ')}, got ${JSON.stringify(cause)}`);
  return {
    sources: parsed.positionals, method: v.method ?? null, id: v.id ?? null,
    slowest: v.slowest, kind: cause !== null ? 'wait' : v.kind, cause: cause as WaitCause | null, output: v.output ?? null, redact: v.redact === true, help: false,
  };
}

/** The profile files and logs LOG arguments name. */
export async function resolveSources(sources: string[]): Promise<{ profiles: string[]; logs: string[] }> {
  const profiles = new Set<string>();
  const logs: string[] = [];
  for (const s of sources) {
    let isDir: boolean;
    try {
      isDir = fs.statSync(s).isDirectory();
      fs.accessSync(s, fs.constants.R_OK);
    } catch (err) {
      throw new UsageError(`lsptap profile: cannot read ${s}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const files = isDir ? fs.readdirSync(s).filter((n) => n.endsWith('.jsonl')).sort().map((n) => path.join(s, n)) : [s];
    for (const f of files) {
      if (f.endsWith(PROFILE_FILE_SUFFIX)) { profiles.add(path.resolve(f)); continue; }
      logs.push(f);
      const named = await profileFilesOf(f);
      if (named.length === 0 && !isDir) throw new UsageError(`lsptap profile: ${s} names no profile file (its sessions ran without profiling, or it is not a session log)`);
      for (const p of named) profiles.add(p);
    }
  }
  if (profiles.size === 0) throw new UsageError(`lsptap profile: no profile files in ${sources.join(', ')}`);
  return { profiles: [...profiles], logs };
}

/**
 * The profile files of a session log: those its `session end` lines name (relative to the
 * log), else the one beside it if it exists.
 */
export async function profileFilesOf(log: string): Promise<string[]> {
  return profileFilesFrom(log, await profileFilesNamedBy(log));
}

/** The profile files of log, from the profileFile fields its `session end` lines hold (read by the caller). */
export function profileFilesFrom(log: string, profileFields: readonly string[]): string[] {
  const named = profileFields.map((p) => path.resolve(path.dirname(log), p));
  const beside = profileFileFor(log);
  if (named.length === 0 && fs.existsSync(beside)) named.push(path.resolve(beside));
  return named;
}

/** `session end` lines' profileFile fields. */
async function profileFilesNamedBy(log: string): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readline.createInterface({ input: fs.createReadStream(log), crlfDelay: Infinity })) {
    if (!line.includes('"profileFile"')) continue;
    try {
      const l = JSON.parse(line) as { msg?: unknown; profileFile?: unknown };
      if (l.msg === 'session end' && typeof l.profileFile === 'string' && !out.includes(l.profileFile)) out.push(l.profileFile);
    } catch {
      // not a log line: report and replay say so; here it only names no profile
    }
  }
  return out;
}

/** Each request's longest latency in the logs, keyed by method and id. */
async function latencies(logs: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const log of logs) {
    for await (const line of readline.createInterface({ input: fs.createReadStream(log), crlfDelay: Infinity })) {
      if (!line.includes('"latencyMs"')) continue;
      try {
        const l = JSON.parse(line) as { msg?: unknown; kind?: unknown; method?: unknown; id?: unknown; latencyMs?: unknown };
        if (l.msg !== 'message' || l.kind !== 'response' || typeof l.latencyMs !== 'number' || l.id === null || l.id === undefined) continue;
        const key = requestKey(typeof l.method === 'string' ? l.method : null, String(l.id as string | number));
        out.set(key, Math.max(out.get(key) ?? 0, l.latencyMs));
      } catch {
        // skipped
      }
    }
  }
  return out;
}

function requestKey(method: string | null, id: string | number | null): string {
  return `${method ?? ''}\0${id ?? ''}`;
}

/** The samples args select, in file order. */
export function selectSamples(samples: readonly ProfileSample[], args: ProfileArgs, latencyMs: ReadonlyMap<string, number>): ProfileSample[] {
  let out = samples.filter((s) => s.kind === args.kind && (args.cause === null || s.cause === args.cause) && (args.method === null || s.method === args.method) && (args.id === null || (s.id !== null && String(s.id) === args.id)));
  if (args.slowest !== null) {
    const time = new Map<string, number>();
    for (const s of out) {
      if (s.id === null) continue;
      const key = requestKey(s.method, s.id);
      time.set(key, latencyMs.get(key) ?? (latencyMs.size > 0 ? 0 : (time.get(key) ?? 0) + s.valueNs));
    }
    const kept = new Set([...time].sort((a, b) => b[1] - a[1]).slice(0, args.slowest).map(([k]) => k));
    out = out.filter((s) => s.id !== null && kept.has(requestKey(s.method, s.id)));
  }
  return out;
}

/** The note under the table when some binary's stacks stop at the leaf (model/leaf-stacks.ts). */
function leafOnlyNote(samples: readonly ProfileSample[]): string[] {
  const leafOnly = leafOnlyBinaries(samples);
  if (leafOnly.length === 0) return [];
  return [`stacks stop at the leaf in ${leafOnlyText(leafOnly)}: built without frame pointers, so their callers are missing and cum undercounts them (docs/profiles.md)`];
}

/** A wait profile's time by cause, largest first: `by cause: child 923ms (80.1%), disk 54ms (4.7%)`. */
function causeLine(samples: readonly ProfileSample[], ms: (ns: number) => string, pct: (ns: number) => string): string[] {
  const by = new Map<string, number>();
  for (const s of samples) if (s.cause !== undefined) by.set(s.cause, (by.get(s.cause) ?? 0) + s.valueNs);
  if (by.size === 0) return []; // a file written before waits had causes
  return [`by cause: ${[...by].filter(([, ns]) => ns > 0).sort((a, b) => b[1] - a[1]).map(([c, ns]) => `${c} ${ms(ns)} (${pct(ns)})`).join(', ')}`];
}

export function formatTop(samples: readonly ProfileSample[], kind: ProfileKind): string {
  const top = topFunctions(samples, TOP_ROWS);
  const requests = new Set(samples.filter((s) => s.id !== null).map((s) => requestKey(s.method, s.id)));
  const count = samples.reduce((n, s) => n + s.count, 0);
  const ms = (ns: number): string => `${(ns / 1e6).toLocaleString('en-US', { maximumFractionDigits: ns < 10e6 ? 1 : 0 })}ms`;
  const pct = (ns: number): string => `${top.totalNs > 0 ? ((100 * ns) / top.totalNs).toFixed(1) : '0.0'}%`;
  const rows = top.functions.map((f) => [ms(f.flatNs), pct(f.flatNs), ms(f.cumNs), pct(f.cumNs), f.name]);
  const header = ['flat', 'flat%', 'cum', 'cum%', 'function'];
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => `${r.slice(0, 4).map((c, i) => c.padStart(widths[i])).join('  ')}  ${r[4]}`;
  return [
    `${kind === 'cpu' ? 'CPU' : 'wait'}: ${ms(top.totalNs)} in ${count.toLocaleString('en-US')} samples, ${requests.size} request${requests.size === 1 ? '' : 's'}${samples.some((s) => s.id === null) ? ' and background work' : ''}`,
    ...(kind === 'wait' ? causeLine(samples, ms, pct) : []),
    line(header),
    ...rows.map(line),
    ...leafOnlyNote(samples),
    '',
  ].join('\n');
}

export async function runProfile(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const args = parseProfileArgs(argv);
  if (args.help) return printUsage(PROFILE_COMMAND, out);
  const { profiles, logs } = await resolveSources(args.sources);
  const data = emptyProfileData();
  for (const file of profiles) {
    try {
      readProfileFile(file, data);
    } catch (err) {
      throw new UsageError(`lsptap profile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (data.badLines > 0) process.stderr.write(`lsptap profile: skipped ${data.badLines} unreadable line${data.badLines === 1 ? '' : 's'} in ${profiles.join(', ')}\n`);
  if (data.cut.samples > 0) process.stderr.write(`lsptap profile: the session left out ${data.cut.samples} samples (${Math.round(data.cut.valueNs / 1e6)} ms) at the profile file's size bound\n`);
  let samples = selectSamples(data.samples, args, args.slowest !== null ? await latencies(logs) : new Map());
  if (args.redact) {
    const r = new Redactor(redactionRoots({ workspaces: await workspacesOf(logs), home: os.homedir() }));
    samples = redactSamples(samples, r);
    process.stderr.write(`lsptap profile: redacted: ${r.removed().filter((s) => !s.startsWith('message bodies')).join('; ')}\n`);
  }
  if (samples.length === 0) {
    process.stderr.write(`lsptap profile: no ${args.kind} samples match in ${profiles.join(', ')}\n`);
    return 1;
  }
  if (args.output !== null) {
    fs.writeFileSync(args.output, encodePprof(samples, { kind: args.kind, hz: data.hz, startedAtMs: data.startedAtMs }));
    out.write(`lsptap profile: wrote ${args.output} (${samples.length} samples; go tool pprof -top ${args.output})\n`);
  } else {
    out.write(formatTop(samples, args.kind));
  }
  return 0;
}
