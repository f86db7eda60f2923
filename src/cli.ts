// Command line: `lsptap [options] -- COMMAND [ARGS...]`, plus subcommands. Options are
// parsed with node:util's parseArgs (a maintained parser in Node itself, so no dependency);
// everything after `--` belongs to the server and is passed through untouched.

import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { openLogTarget, defaultLogDir } from './sinks/log-file';
import { resolveRetention, type RetentionPolicy, type RetentionReport } from './sinks/log-retention';
import { runStdioProxy, runConnectProxy } from './proxy/stdio-proxy';
import { runListenProxy, inheritedSocket, type UpstreamSpec } from './proxy/listen-proxy';
import { parseAddress } from './proxy/address';
import { runGoplsMode } from './dropin/gopls-mode';
import { installShim } from './dropin/install-shim';
import { VERSION } from './model/version';
import type { BpfMode } from './model/stages';
import { StartupError, UsageError, describeFailure } from './model/errors';
import { AnalysisLink } from './proxy/worker/analysis-link';
import { guardStderr, writeStderr } from './proxy/stderr';
import { exposedMetricsWarning, parseMetricsAddress } from './sinks/metrics-address';


export const USAGE = `usage: lsptap [options] -- COMMAND [ARGS...]
       lsptap [options] --connect ADDR                  relay stdio to a listening server
       lsptap [options] --listen ADDR --connect ADDR    one session per accepted connection
       lsptap [options] --listen ADDR -- COMMAND [ARGS...]   one server per connection
       lsptap [options] --server GOPLS [-- GOPLS-ARGS]  stand in for gopls (as the shim does)
       lsptap install-shim DIR        make DIR/gopls, a gopls-named shim for editors
       lsptap demo [--log PATH]       scripted gopls session on the Go standard library
       lsptap report [--json] [--html FILE] [LOG...]   per-method latency report from logs
       lsptap top [LOG...]            live view of the sessions logging to the log directory
       lsptap profile [-o FILE] LOG...   per-request CPU/wait profile (pprof, or top functions)
       lsptap replay LOG -- SERVER... play a --bodies session again against SERVER
       lsptap diff A... -- B...       compare two sets of logs per method, with verdicts
       lsptap --version | --help

Relays stdio between an LSP client and COMMAND, byte for byte, and logs every message.
Invoked as \`gopls\` (the shim), or with gopls's own arguments (none, -flags, version,
serve, vulncheck...), lsptap stands in for the real gopls: $LSPTAP_SERVER, else the next
gopls on PATH. ADDR is unix:PATH or tcp:HOST:PORT.

options:
  --log PATH         write the JSON log to PATH (appended, created 0600); "-" for stderr
  --log-dir DIR      directory for per-session log files (default: $LSPTAP_LOG_DIR,
                     else $XDG_STATE_HOME/lsptap, else ~/.local/state/lsptap)
  --log-dir-max SIZE at each start, remove the oldest session logs in the log directory
                     until they take at most SIZE (K, M, G suffixes; default 1G, or
                     $LSPTAP_LOG_DIR_MAX; 0: no bound); never a live session's
  --log-dir-days N   at each start, remove session logs in the log directory last
                     written more than N days ago (default 30, or $LSPTAP_LOG_DIR_DAYS;
                     0: no bound)
  --bodies           also log message bodies (they contain your source code)
  --bodies-max N     largest body logged with --bodies, in bytes (default 1048576)
  --summary          print the per-method latency table to stderr at the end
  --metrics ADDR     serve Prometheus metrics at /metrics on tcp:HOST:PORT or unix:PATH
  --bpf MODE         kernel timing with eBPF: auto (default: on where it can load, else
                     one warn line in the log), off, or require (exit with an error
                     when it cannot load); needs root or cap_bpf,cap_perfmon
  --grace-ms N       after the client closes, wait N ms for the server before SIGTERM,
                     and N ms more before SIGKILL (default 3000)
  --connect ADDR     the server is listening at ADDR (no child process)
  --listen ADDR      accept editors at ADDR (with --connect, or a command after --); a
                     UNIX socket is made 0600; "systemd": the socket systemd passed
  --server PATH      the real gopls to stand in for (default: $LSPTAP_SERVER, else PATH)
  --version          print lsptap's version
  --help             this text
`;

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
  connect?: string;
  listen?: string;
  server?: string;
}

export { UsageError };

export { StartupError };

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`lsptap: ${name} needs a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Split argv at the first `--`: lsptap's options before, the server command after. */
export function parseProxyArgs(argv: string[]): { opts: ProxyCliOptions; command: string[] } {
  const dd = argv.indexOf('--');
  const own = dd < 0 ? argv : argv.slice(0, dd);
  const command = dd < 0 ? [] : argv.slice(dd + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: false,
      strict: true,
      options: {
        log: { type: 'string' },
        'log-dir': { type: 'string' },
        'log-dir-max': { type: 'string' },
        'log-dir-days': { type: 'string' },
        bodies: { type: 'boolean', default: false },
        'bodies-max': { type: 'string' },
        summary: { type: 'boolean', default: false },
        'grace-ms': { type: 'string' },
        metrics: { type: 'string' },
        bpf: { type: 'string', default: 'auto' },
        connect: { type: 'string' },
        listen: { type: 'string' },
        server: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(`lsptap: ${(err as Error).message}`);
  }
  const v = parsed.values;
  if (v.bpf !== 'off' && v.bpf !== 'auto' && v.bpf !== 'require') throw new UsageError(`lsptap: --bpf needs off, auto or require, got ${JSON.stringify(v.bpf)}`);
  const retention = resolveRetention({ max: v['log-dir-max'], days: v['log-dir-days'] }, process.env);
  if (typeof retention === 'string') throw new UsageError(retention);
  return {
    opts: {
      log: v.log, logDir: v['log-dir'], retention, bodies: v.bodies === true, summary: v.summary === true,
      bodiesMax: positiveInt('--bodies-max', v['bodies-max'], 1 << 20),
      graceMs: positiveInt('--grace-ms', v['grace-ms'], 3000),
      metrics: v.metrics,
      bpf: v.bpf,
      connect: v.connect, listen: v.listen, server: v.server,
    },
    command,
  };
}

export function openSessionLog(opts: ProxyCliOptions): { fd: number; path: string | null; retention: RetentionReport | null } {
  return openLogTarget(opts.log, opts.logDir ?? defaultLogDir(process.env), process.pid, opts.retention);
}

/**
 * Start the analysis thread and open the log it writes. Only --bpf=require and --metrics
 * can refuse to start (a startup error, printed before any server starts): only they wait
 * for the thread; otherwise the server starts while the thread does, and the bytes wait in
 * the shared ring (`lsptap -- true`: 361 -> 321 ms CPU, see the commit).
 */
async function startLink(opts: ProxyCliOptions, bpf: BpfMode, needKernelState = false): Promise<{ link: AnalysisLink; logPath: string | null; extraStart: Record<string, unknown> }> {
  if (opts.metrics !== undefined) {
    const exposed = exposedMetricsWarning(parseMetricsAddress(opts.metrics));
    if (exposed !== null) writeStderr(`${exposed}\n`);
  }
  const link = AnalysisLink.launch({ bpf, metricsAddress: opts.metrics ?? null });
  if (bpf === 'require' || opts.metrics !== undefined || needKernelState) await link.started;
  const { fd, path, retention } = openSessionLog(opts);
  link.openLog(fd, opts.bodies, path, opts.graceMs);
  return { link, logPath: path, extraStart: retention === null ? {} : { logRetention: retention } };
}

async function runProxy(argv: string[]): Promise<number> {
  const { opts, command } = parseProxyArgs(argv);
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
    return runConnectProxy({ ...common, link, logPath, address: connect, sessionId: randomUUID().slice(0, 8), extraStart });
  }
  if (command.length === 0) throw new UsageError('lsptap: no server command; put it after --, e.g. lsptap -- gopls serve');
  const { link, logPath, extraStart } = await startLink(opts, opts.bpf);
  return runStdioProxy({ ...common, command: command[0], args: command.slice(1), link, logPath, sessionId: randomUUID().slice(0, 8), extraStart });
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  guardStderr();
  let code: number;
  try {
    const first = argv[0];
    if (argv.length === 0) { process.stderr.write(USAGE); code = 2; }
    else if (first === '--version') { process.stdout.write(`lsptap ${VERSION}\n`); code = 0; }
    else if (first === '--help' || first === 'help') { process.stdout.write(USAGE); code = 0; }
    // Subcommands load their modules on use: the proxy's start stays short.
    else if (first === 'demo') { code = await (require('./demo/demo') as typeof import('./demo/demo')).runDemo(argv.slice(1)); }
    else if (first === 'install-shim') { installShim(argv[1], process.stdout); code = 0; }
    else if (first === 'report') { code = await (require('./report/report-command') as typeof import('./report/report-command')).runReport(argv.slice(1)); }
    else if (first === 'diff') { code = await (require('./diff/diff-command') as typeof import('./diff/diff-command')).runDiff(argv.slice(1)); }
    else if (first === 'replay') { code = await (require('./replay/replay-command') as typeof import('./replay/replay-command')).runReplay(argv.slice(1)); }
    else if (first === 'profile') { code = await (require('./profile/profile-command') as typeof import('./profile/profile-command')).runProfile(argv.slice(1)); }
    else if (first === 'top') { code = await (require('./top/top-command') as typeof import('./top/top-command')).runTop(argv.slice(1)); }
    else code = await runProxy(argv);
  } catch (err) {
    const failure = describeFailure(err);
    process.stderr.write(`${failure.message}\n`);
    code = failure.exitCode;
  }
  process.exit(code);
}
