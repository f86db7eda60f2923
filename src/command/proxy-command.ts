// lsptap's own command line, declared once: its options (parsed by cli.ts, shown by
// --help) and its subcommands' names. dropin/command-line.ts reads the same names to tell
// lsptap's command lines from gopls's, so a new option is lsptap's in both places at once.

import { choice, flag, text, whole, type CommandSpec } from './command-args';
import { DEFAULT_PROFILE_HZ } from '../model/stages';

/** The subcommands, as the first word of lsptap's command line (`help` prints the usage). */
export const SUBCOMMANDS = ['demo', 'report', 'top', 'profile', 'replay', 'diff', 'install-shim', 'help'] as const;

export const PROXY_COMMAND = {
  name: 'lsptap',
  synopsis: [
    'lsptap [options] -- COMMAND [ARGS...]',
    'lsptap [options] --connect ADDR                  relay stdio to a listening server',
    'lsptap [options] --listen ADDR --connect ADDR    one session per accepted connection',
    'lsptap [options] --listen ADDR -- COMMAND [ARGS...]   one server per connection',
    'lsptap [options] --server GOPLS [-- GOPLS-ARGS]  stand in for gopls (as the shim does)',
    'lsptap install-shim DIR        make DIR/gopls, a gopls-named shim for editors',
    'lsptap demo [options]          scripted session: gopls on the Go standard library, or --server NAME',
    'lsptap report [options] [LOG...]   per-method latency report from logs',
    'lsptap top [options] [LOG...]  live view of the sessions logging to the log directory',
    'lsptap profile [options] LOG...    per-request CPU/wait profile (pprof, or top functions)',
    'lsptap replay [options] LOG -- SERVER...   play a --bodies session again against SERVER',
    'lsptap diff [options] A... -- B...   compare two sets of logs per method, with verdicts',
    'lsptap COMMAND --help          the options of one command',
    'lsptap --version | --help',
  ],
  about: `Relays stdio between an LSP client and COMMAND, byte for byte, and logs every message.
Invoked as \`gopls\` (the shim), or with gopls's own arguments (none, -flags, version, serve,
vulncheck...), lsptap stands in for the real gopls: $LSPTAP_SERVER, else the next gopls on PATH.
ADDR is unix:PATH or tcp:HOST:PORT. Manual: man lsptap, or docs/command-line.md.`,
  positionals: false,
  splitAtDashes: true,
  options: {
    log: text('PATH', 'write the JSON log to PATH (appended, created 0600); "-" for stderr'),
    'log-dir': text('DIR', 'directory for per-session log files (default: $LSPTAP_LOG_DIR, else $XDG_STATE_HOME/lsptap, else ~/.local/state/lsptap)'),
    'log-dir-max': text('SIZE', 'at each start, remove the oldest session logs in the log directory until they take at most SIZE (K, M, G suffixes; default 1G, or $LSPTAP_LOG_DIR_MAX; 0: no bound); never a live session\'s'),
    'log-dir-days': text('N', 'at each start, remove session logs in the log directory last written more than N days ago (default 30, or $LSPTAP_LOG_DIR_DAYS; 0: no bound)'),
    bodies: flag('also log message bodies (they contain your source code)'),
    'bodies-max': whole('N', 1 << 20, 'largest body logged with --bodies, in bytes (default 1048576)'),
    summary: flag('print the per-method latency table to stderr at the end'),
    metrics: text('ADDR', 'serve Prometheus metrics at /metrics on tcp:HOST:PORT or unix:PATH'),
    bpf: choice('MODE', ['auto', 'off', 'require'] as const, 'auto', 'kernel timing with eBPF: auto (default: on where it can load, else one warn line in the log), off, or require (exit with an error when it cannot load); needs root or cap_bpf,cap_perfmon'),
    'profile-hz': whole('N', DEFAULT_PROFILE_HZ, "sample the server's stacks N times a second per CPU while kernel timing runs (default 99, at most 10000); 0 turns profiling off"),
    'grace-ms': whole('N', 3000, 'after the client closes, wait N ms for the server before SIGTERM, and N ms more before SIGKILL (default 3000)'),
    connect: text('ADDR', 'the server is listening at ADDR (no child process)'),
    listen: text('ADDR', 'accept editors at ADDR (with --connect, or a command after --); a UNIX socket is made 0600; "systemd": the socket systemd passed'),
    server: text('PATH', 'the real gopls to stand in for (default: $LSPTAP_SERVER, else PATH)'),
    version: flag("print lsptap's version"),
  },
} as const satisfies CommandSpec;

