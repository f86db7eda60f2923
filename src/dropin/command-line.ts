// Whose command line is it: lsptap's own, or gopls's (lsptap standing in for gopls)? Kept
// apart from cli.ts and its imports so that deciding costs nothing: vscode-go runs
// `gopls version -json` at every start, and a plain gopls command should start as fast as
// Node can.

const OWN_OPTIONS = new Set(['--', '--log', '--log-dir', '--bodies', '--bodies-max', '--summary', '--metrics', '--bpf', '--grace-ms', '--connect', '--listen', '--server', '--version', '--help']);
const OWN_COMMANDS = new Set(['demo', 'report', 'top', 'replay', 'diff', 'install-shim', 'help']);

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
