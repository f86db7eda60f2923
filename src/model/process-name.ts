// A process named by what it runs, from its argv alone (so the summary, `lsptap report` on a
// log from another machine, `top`, the metrics and the children lists all say the same):
// `python3 -m pylsp` is pylsp, `node .../typescript-language-server/lib/cli.mjs` is
// typescript-language-server, `node .../typescript/lib/tsserver.js` is tsserver, `go list -e`
// is go list. docs/kernel-timing.md "Names".

/** Interpreters whose program is a script or module named in their arguments. */
const PYTHON = /^python[0-9.]*$/;
const NODE = /^(node|nodejs|bun|deno)$/;
const SCRIPT_HOSTS = /^(python[0-9.]*|node|nodejs|bun|deno|ruby|perl|php|bash|sh|dash|zsh|java)$/;

/** Script files that say nothing themselves: the package (or folder) holding them is the name. */
const GENERIC_FILES = new Set(['cli', 'index', 'main', 'server', 'start', 'run', 'app', 'bin', '__main__', 'entry', 'lsp']);

/** Interpreter options that take the next argument as their value. */
const TAKES_VALUE = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-X', '-W', '-e', '--eval', '-p', '--print', '--title', '-I', '-classpath', '-cp']);

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const stripExt = (f: string): string => f.replace(/\.(m?js|cjs|ts|py|pyc|rb|pl|php|sh|jar)$/, '');

/**
 * What a script path runs: the file's own name (`tsserver`, `typingsInstaller`) unless it is
 * generic (`cli.mjs`, `index.js`, `__main__.py`), then its package in node_modules or
 * site-/dist-packages (`typescript-language-server`, `jedi`), else the folder above lib/out/dist/bin/src.
 */
function scriptName(file: string): string {
  const own = stripExt(basename(file));
  if (!GENERIC_FILES.has(own)) return own;
  const parts = file.split('/').filter((s) => s.length > 0);
  let nm = parts.length - 1;
  while (nm >= 0 && !/^(node_modules|site-packages|dist-packages)$/.test(parts[nm])) nm--;
  if (nm >= 0 && nm + 1 < parts.length - 1) return parts[nm + 1].startsWith('@') && nm + 2 < parts.length - 1 ? `${parts[nm + 1]}/${parts[nm + 2]}` : parts[nm + 1];
  const dirs = parts.slice(0, -1);
  while (dirs.length > 1 && /^(lib|out|dist|bin|src|build)$/.test(dirs[dirs.length - 1])) dirs.pop();
  return dirs.length > 0 ? dirs[dirs.length - 1] : own;
}

/** The program an interpreter runs: `-m module`, or the first argument that is not an option. */
function hostedName(host: string, args: string[]): string | null {
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (PYTHON.test(host) && a === '-m' && i + 1 < args.length) return args[i + 1].split('.')[0];
    if (PYTHON.test(host) && a.startsWith('-m') && a.length > 2) return a.slice(2).split('.')[0];
    if (host === 'java' && a === '-jar' && i + 1 < args.length) return stripExt(basename(args[i + 1]));
    if (a === '-c' || a === '-e' || a === '--eval') return null; // inline code: the interpreter it is
    if (TAKES_VALUE.has(a)) { i++; continue; }
    if (a.startsWith('-')) continue;
    return host === 'java' ? a.split('.').pop() ?? a : scriptName(a);
  }
  return null;
}

/**
 * The name of a process that runs `args` (its argv; `path` and `comm` when argv is empty):
 * an interpreter's module or script, `env`'s command, else the executable, with a
 * subcommand when the second argument is a plain word (`go list`, `git status`).
 */
export function processName(args: readonly string[], path: string | null = null, comm: string | null = null): string {
  const exe = basename(args[0] ?? path ?? comm ?? '?');
  if (exe === 'env') {
    const rest = args.slice(1);
    const at = rest.findIndex((a) => !a.startsWith('-') && !a.includes('='));
    if (at >= 0) return processName(rest.slice(at));
  }
  if (SCRIPT_HOSTS.test(exe) || NODE.test(exe)) {
    const hosted = hostedName(exe, [...args]);
    if (hosted !== null && hosted !== '') return hosted;
    return exe;
  }
  const sub = args[1];
  return sub !== undefined && /^[a-z][a-z0-9-]*$/.test(sub) ? `${exe} ${sub}` : exe;
}

/** The server a `session start` line's `command` runs, by name; null when there is none. */
export function serverNameOf(command: unknown): string | null {
  return Array.isArray(command) && command.length > 0 && command.every((a) => typeof a === 'string') ? processName(command as string[]) : null;
}
