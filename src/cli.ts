// Command line: `lsptap [options] -- COMMAND [ARGS...]`, plus subcommands. Options are
// parsed with node:util's parseArgs (a maintained parser in Node itself, so no dependency);
// everything after `--` belongs to the server and is passed through untouched.

import { newSessionId } from './model/session-id';
import { openLogTarget, defaultLogDir } from './sinks/log-file';
import { resolveRetention, type RetentionPolicy, type RetentionReport } from './sinks/log-retention';
import { runStdioProxy, runConnectProxy } from './proxy/stdio-proxy';
import { runListenProxy, inheritedSocket, type UpstreamSpec } from './proxy/listen-proxy';
import { parseAddress } from './proxy/address';
import { runGoplsMode } from './dropin/gopls-mode';
import { runInstallShim } from './dropin/install-shim';
import { VERSION } from './model/version';
import { MAX_PROFILE_HZ, type BpfMode } from './model/stages';
import { StartupError, UsageError, describeFailure } from './model/errors';
import { AnalysisLink } from './proxy/worker/analysis-link';
import { missingBpfCapability } from './probes/bpf-capability';
import { guardStderr, writeStderr } from './proxy/stderr';
import { exposedMetricsWarning, parseMetricsAddress } from './sinks/metrics-address';
import { parseCommand, printUsage, usageOf, usageError } from './command/command-args';
import { PROXY_COMMAND } from './command/proxy-command';
import type { SubcommandName } from './subcommands';


export interface ProxyCliOptions {
  log?: string;
  logDir?: string;
  /** Retention of the log directory's session logs (log-retention.ts). */
  retention: RetentionPolicy;
  bodies: boolean;
  bodiesMax: number;
  summary: boolean;
  graceMs: number;
  metrics?: string;
  bpf: BpfMode;
  /** --profile-hz: the profiler's rate per CPU; 0: off. */
  profileHz: number;
  connect?: string;
  listen?: string;
  server?: string;
}

export { UsageError };

export { StartupError };

/** --profile-hz: at most MAX_PROFILE_HZ (0 is off). */
function profileHz(hz: number): number {
  if (hz > MAX_PROFILE_HZ) throw usageError(PROXY_COMMAND, `--profile-hz is at most ${MAX_PROFILE_HZ}, got ${hz}`);
  return hz;
}

/** Split argv at the first `--`: lsptap's options before, the server command after. */
export function parseProxyArgs(argv: string[]): { opts: ProxyCliOptions; command: string[] } | 'help' | 'version' {
  const parsed = parseCommand(PROXY_COMMAND, argv);
  if (parsed.help) return 'help';
  const v = parsed.values;
  if (v.version) return 'version';
  const retention = resolveRetention({ max: v['log-dir-max'], days: v['log-dir-days'] }, process.env);
  if (typeof retention === 'string') throw new UsageError(retention);
  return {
    opts: {
      log: v.log, logDir: v['log-dir'], retention, bodies: v.bodies, summary: v.summary,
      bodiesMax: v['bodies-max'], graceMs: v['grace-ms'], metrics: v.metrics, bpf: v.bpf,
      profileHz: profileHz(v['profile-hz']),
      connect: v.connect, listen: v.listen, server: v.server,
    },
    command: parsed.afterDashes ?? [],
  };
}

export function openSessionLog(opts: ProxyCliOptions): { fd: number; path: string | null; retention: RetentionReport | null } {
  return openLogTarget(opts.log, opts.logDir ?? defaultLogDir(process.env), process.pid, opts.retention);
}

/**
 * Make the link to the analysis thread and open the log it writes. Only --metrics and (with
 * needKernelState) --bpf=require can refuse to start (a startup error, printed before any
 * server starts): only they start the thread here and wait for it. Otherwise a child server
 * is spawned first and the thread started after it (stdio-proxy.ts), the bytes waiting in the
 * shared ring meanwhile; --listen and --connect start it here without waiting. A child server
 * does not wait for --bpf=require's probes either: they load beside it, after a capability
 * check here (stdio-proxy.ts ends the session if they then fail).
 */
async function startLink(opts: ProxyCliOptions, bpf: BpfMode, needKernelState = false, childServer = false): Promise<{ link: AnalysisLink; logPath: string | null; extraStart: Record<string, unknown> }> {
  if (bpf === 'require' && !needKernelState) {
    const missing = missingBpfCapability();
    if (missing !== null) throw new StartupError(`lsptap: --bpf=require: kernel timing cannot start: ${missing.message}`);
  }
  if (opts.metrics !== undefined) {
    const exposed = exposedMetricsWarning(parseMetricsAddress(opts.metrics));
    if (exposed !== null) writeStderr(`${exposed}\n`);
  }
  const config = { bpf, metricsAddress: opts.metrics ?? null, profileHz: opts.profileHz };
  const waits = opts.metrics !== undefined || needKernelState;
  const link = childServer && !waits ? AnalysisLink.prepare(config) : AnalysisLink.launch(config);
  if (waits) await link.started;
  const { fd, path, retention } = openSessionLog(opts);
  link.openLog(fd, opts.bodies, path, opts.graceMs);
  return { link, logPath: path, extraStart: retention === null ? {} : { logRetention: retention } };
}

async function runProxy(argv: string[]): Promise<number> {
  const parsed = parseProxyArgs(argv);
  if (parsed === 'help') return printUsage(PROXY_COMMAND);
  if (parsed === 'version') { process.stdout.write(`lsptap ${VERSION}\n`); return 0; }
  const { opts, command } = parsed;
  if (opts.server !== undefined) {
    if (opts.connect !== undefined || opts.listen !== undefined) throw new UsageError('lsptap: --server starts a gopls; it does not go with --connect or --listen');
    return runGoplsMode(command, { ...opts, server: opts.server, invokedAs: 'lsptap --server' });
  }
  const common = { retainBodyMax: opts.bodies ? opts.bodiesMax : 0, printSummary: opts.summary, graceMs: opts.graceMs };
  if (opts.listen !== undefined) {
    if ((opts.connect === undefined) === (command.length === 0)) throw new UsageError('lsptap: --listen needs either --connect ADDR (the server every connection is relayed to) or a command after -- (a server started for each connection)');
    // `systemd`: the socket a .socket unit (or systemd-socket-activate) passed us.
    const listen = opts.listen === 'systemd' ? inheritedSocket() : parseAddress('--listen', opts.listen);
    const server: UpstreamSpec = opts.connect !== undefined ? { kind: 'connect', address: parseAddress('--connect', opts.connect) } : { kind: 'command', command };
    // Each connection's kernel target depends on whether the probes loaded: know it before
    // the first accept (a daemon's start is not on an editor's path).
    const { link, logPath, extraStart } = await startLink(opts, opts.bpf, opts.bpf !== 'off');
    return runListenProxy({ ...common, link, logPath, listen, server, firstStart: extraStart });
  }
  if (opts.connect !== undefined) {
    if (command.length > 0) throw new UsageError('lsptap: --connect relays to a listening server; give no command after --');
    const connect = parseAddress('--connect', opts.connect);
    // The socket's peer fd is looked up only when kernel timing runs: wait to know.
    const { link, logPath, extraStart } = await startLink(opts, opts.bpf, opts.bpf !== 'off');
    return runConnectProxy({ ...common, link, logPath, address: connect, sessionId: newSessionId(), extraStart });
  }
  if (command.length === 0) throw new UsageError('lsptap: no server command; put it after --, e.g. lsptap -- gopls serve');
  const { link, logPath, extraStart } = await startLink(opts, opts.bpf, false, true);
  return runStdioProxy({ ...common, command: command[0], args: command.slice(1), link, logPath, sessionId: newSessionId(), extraStart });
}

const subcommands = (): typeof import('./subcommands') => require('./subcommands') as typeof import('./subcommands');
const BUNDLED_SUBCOMMANDS = new Set<string>(['demo', 'report', 'diff', 'replay', 'profile', 'top'] satisfies SubcommandName[]);

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  guardStderr();
  let code: number;
  try {
    const first = argv[0];
    if (argv.length === 0) { process.stderr.write(usageOf(PROXY_COMMAND)); code = 2; }
    else if (first === 'help') code = printUsage(PROXY_COMMAND);
    else if (first === 'install-shim') { code = runInstallShim(argv.slice(1), process.stdout); }
    // Subcommands load their modules on use (their own bundle): the proxy's start stays short.
    else if (BUNDLED_SUBCOMMANDS.has(first)) code = await subcommands().runSubcommand(first as SubcommandName, argv.slice(1));
    else code = await runProxy(argv);
  } catch (err) {
    const failure = describeFailure(err);
    process.stderr.write(`${failure.message}\n`);
    code = failure.exitCode;
  }
  process.exit(code);
}
