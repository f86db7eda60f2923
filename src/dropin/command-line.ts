// Whose command line is it: lsptap's own, or gopls's (lsptap standing in for gopls)? Kept
// apart from cli.ts and its imports so that deciding costs nothing: vscode-go runs
// `gopls version -json` at every start, and a plain gopls command should start as fast as
// Node can.

import { PROXY_COMMAND, SUBCOMMANDS } from '../command/proxy-command';

const OWN_OPTIONS = new Set(['--', '--help', ...Object.keys(PROXY_COMMAND.options).map((name) => `--${name}`)]);
const OWN_COMMANDS = new Set<string>(SUBCOMMANDS);

/**
 * Is this lsptap's own command line, or gopls's (lsptap standing in for gopls)? Invoked as
 * `gopls`: always gopls's. Otherwise lsptap's words are its subcommands and its known
 * `--options`, and `--anything ... -- COMMAND`; anything else (nothing at all, `version -json`,
 * `-rpc.trace`, `serve`) is what an editor passes to gopls: VS Code's go.alternateTools
 * pointing at lsptap itself.
 */
export function isGoplsCommandLine(invokedAs: string, argv: string[]): boolean {
  if (invokedAs === 'gopls') return true;
  if (argv.length === 0) return true;
  const first = argv[0];
  if (OWN_COMMANDS.has(first) || OWN_OPTIONS.has(first.replace(/=.*$/, ''))) return false;
  // `lsptap --typo -- server`: lsptap's (and a usage error); gopls's own command lines only
  // hold a bare `--` after a verb (`vulncheck -- -mode=convert`).
  return !(first.startsWith('--') && argv.includes('--'));
}

// gopls's flag grammar is Go's flag package: `-name`, `--name`, `-name=value`, and
// `-name value` for flags that are not boolean; the first other word is the verb.

/** gopls flags (0.5 to current) that are boolean; the rest take a value. */
const BOOL_FLAGS = new Set(['rpc.trace', 'v', 'verbose', 'vv', 'veryverbose', 'h', 'help']);

export interface GoplsInvocation {
  /** The verb, or null when there is none (a session). */
  verb: string | null;
  /** Relay and observe (a stdio language-server session). */
  session: boolean;
  /** Why it is not a session, for the log of the curious. */
  why: string;
}

export function classifyGoplsArgs(args: string[]): GoplsInvocation {
  let verb: string | null = null;
  let listen = false;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') { if (verb === null) verb = args[i + 1] ?? null; break; }
    if (a.startsWith('-') && a !== '-') {
      const body = a.replace(/^--?/, '');
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      if (name === 'listen') listen = true;
      if (name === 'h' || name === 'help') help = true;
      if (eq < 0 && !BOOL_FLAGS.has(name)) i++; // `-name value`
      continue;
    }
    if (verb === null) {
      verb = a;
      if (verb !== 'serve') break; // the verb's own arguments are its business
      continue;
    }
    break; // `serve` takes no positional arguments; gopls will say so
  }
  if (help) return { verb, session: false, why: 'help' };
  if (listen) return { verb, session: false, why: '-listen: a daemon, not a stdio session (observe it with lsptap --listen)' };
  if (verb === null || verb === 'serve') return { verb, session: true, why: 'language-server session' };
  return { verb, session: false, why: `gopls ${verb} is a command, not a session` };
}

/** `lsptap` typed at a terminal with nothing after it wants usage, not a gopls session. */
export function atTerminalWithNothing(invokedAs: string, argv: string[], stdinIsTTY: () => boolean): boolean {
  return argv.length === 0 && invokedAs !== 'gopls' && stdinIsTTY();
}
