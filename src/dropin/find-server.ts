// Finding the real gopls when lsptap stands in for it, without ever finding lsptap again.
// Order: --server PATH, $LSPTAP_SERVER, else the first `gopls` on PATH that is not lsptap.
// "Not lsptap" means: its real path is not this bin/lsptap, not one of the lsptap entry
// points already in this chain ($LSPTAP_SHIM_CHAIN, set on every server we start), and its
// first bytes are not another copy of lsptap's entry script. So two installed copies of
// the shim on PATH cost one extra hop, never a loop; and if something else on PATH (a
// wrapper script) leads back to this lsptap, the chain shows it and lsptap stops with an
// error instead of starting itself again.

import fs from 'node:fs';
import path from 'node:path';

export const CHAIN_VAR = 'LSPTAP_SHIM_CHAIN';
/** bin/lsptap, resolved (dist/src/dropin → repo root). */
export const LSPTAP_ENTRY = path.resolve(__dirname, '..', '..', '..', 'bin', 'lsptap');
/**
 * Text that only lsptap's entry script holds: this version's mark line, and the paths
 * earlier versions required (written without `require(` so no tool reads them as imports).
 */
const ENTRY_MARKS = ['lsptap-entry-script', "'../dist/src/entry.js')", "'../dist/src/cli.js')"];

import { ServerNotFound } from '../model/errors';
export { ServerNotFound };

function realpath(p: string): string {
  try { return fs.realpathSync(p); } catch { return p; }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function looksLikeLsptap(p: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(p, 'r');
    const buf = Buffer.alloc(1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const head = buf.toString('latin1', 0, n);
    return ENTRY_MARKS.some((m) => head.includes(m));
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** Real paths of lsptap entry points that must not be chosen as the server. */
export function selfPaths(env: NodeJS.ProcessEnv): Set<string> {
  const set = new Set<string>([realpath(LSPTAP_ENTRY)]);
  for (const p of (env[CHAIN_VAR] ?? '').split(path.delimiter)) if (p !== '') set.add(p);
  return set;
}

function isSelf(p: string, self: Set<string>): boolean {
  return self.has(realpath(p)) || looksLikeLsptap(p);
}

/** Search PATH like execvp does (empty entries mean the current directory). */
export function searchPath(name: string, envPath: string, skip: (p: string) => boolean): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    const candidate = path.resolve(dir === '' ? '.' : dir, name);
    if (isExecutableFile(candidate) && !skip(candidate)) return candidate;
  }
  return null;
}

export interface FoundServer { path: string; via: '--server' | 'LSPTAP_SERVER' | 'PATH' }

export function findRealServer(env: NodeJS.ProcessEnv, explicit?: string): FoundServer {
  const self = selfPaths(env);
  if ((env[CHAIN_VAR] ?? '').split(path.delimiter).includes(realpath(LSPTAP_ENTRY))) {
    throw new ServerNotFound(`lsptap: loop: the gopls lsptap started led back to lsptap (${CHAIN_VAR}=${env[CHAIN_VAR]}); set LSPTAP_SERVER=/path/to/the/real/gopls`);
  }
  const given = explicit !== undefined ? { value: explicit, via: '--server' as const } : env.LSPTAP_SERVER ? { value: env.LSPTAP_SERVER, via: 'LSPTAP_SERVER' as const } : null;
  if (given !== null) {
    const p = given.value.includes('/') ? path.resolve(given.value) : searchPath(given.value, env.PATH ?? '', () => false);
    if (p === null || !isExecutableFile(p)) throw new ServerNotFound(`lsptap: ${given.via} ${given.value} is not an executable file; point it at the real gopls`);
    if (isSelf(p, self)) throw new ServerNotFound(`lsptap: ${given.via} ${given.value} is lsptap itself (or its shim); point it at the real gopls`);
    return { path: p, via: given.via };
  }
  const found = searchPath('gopls', env.PATH ?? '', (p) => isSelf(p, self));
  if (found === null) throw new ServerNotFound('lsptap: cannot find the real gopls: no gopls on PATH other than lsptap\'s shim; install gopls (apt-get install gopls) or set LSPTAP_SERVER=/path/to/gopls');
  return { path: found, via: 'PATH' };
}

/** The environment for the real server: our own entry point joins the chain. */
export function chainEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const chain = [...selfPaths(env)].join(path.delimiter);
  return { ...env, [CHAIN_VAR]: chain };
}
