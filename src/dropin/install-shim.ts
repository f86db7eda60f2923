// `lsptap install-shim DIR`: a symlink DIR/gopls → bin/lsptap. Put DIR first on PATH (or
// give DIR/gopls to go.alternateTools) and every editor that starts `gopls` starts lsptap,
// which wraps the next real gopls on PATH. An existing DIR/gopls that is not our symlink
// is left alone with an error.

import fs from 'node:fs';
import path from 'node:path';
import { LSPTAP_ENTRY, findRealServer, CHAIN_VAR } from './find-server';

import { InstallError } from '../model/errors';
import { parseCommand, printUsage, usageError, type CommandSpec } from '../command/command-args';
export { InstallError };

export const INSTALL_SHIM_COMMAND = {
  name: 'lsptap install-shim',
  synopsis: ['lsptap install-shim DIR'],
  about: "Makes DIR/gopls, a symlink to lsptap (DIR is created if missing), and says which gopls it will wrap. Put DIR first on PATH, or give DIR/gopls to VS Code's go.alternateTools.",
  positionals: true,
  splitAtDashes: false,
  options: {},
} as const satisfies CommandSpec;

/** `lsptap install-shim [--help] DIR`: the exit code. */
export function runInstallShim(argv: string[], out: NodeJS.WritableStream): number {
  const parsed = parseCommand(INSTALL_SHIM_COMMAND, argv);
  if (parsed.help) return printUsage(INSTALL_SHIM_COMMAND, out);
  if (parsed.positionals.length !== 1) throw usageError(INSTALL_SHIM_COMMAND, parsed.positionals.length === 0 ? 'give the directory, e.g. lsptap install-shim ~/.local/lib/lsptap/bin' : 'give one directory');
  installShim(parsed.positionals[0], out);
  return 0;
}

export function installShim(dirArg: string | undefined, out: NodeJS.WritableStream): string {
  if (dirArg === undefined || dirArg === '') throw new InstallError('lsptap: install-shim needs a directory, e.g. lsptap install-shim ~/.local/lib/lsptap/bin');
  const dir = path.resolve(dirArg);
  const shim = path.join(dir, 'gopls');
  const target = fs.realpathSync(LSPTAP_ENTRY);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  let existing: fs.Stats | null = null;
  try { existing = fs.lstatSync(shim); } catch { /* free */ }
  if (existing !== null) {
    const ours = existing.isSymbolicLink() && fs.realpathSync(shim) === target;
    if (!ours) throw new InstallError(`lsptap: ${shim} already exists and is not lsptap's shim; remove it or choose another directory`);
    out.write(`lsptap: ${shim} is already the shim (→ ${target})\n`);
  } else {
    fs.symlinkSync(target, shim);
    out.write(`lsptap: installed ${shim} → ${target}\n`);
  }
  // Say which gopls the shim will wrap from a PATH that has DIR first.
  const env = { ...process.env, PATH: [dir, process.env.PATH ?? ''].join(path.delimiter), [CHAIN_VAR]: '' };
  try {
    const real = findRealServer(env);
    out.write(`lsptap: it will wrap ${real.path} (the next gopls on PATH; override with LSPTAP_SERVER)\n`);
  } catch (err) {
    out.write(`${(err as Error).message}\n`);
  }
  out.write(`lsptap: use it by putting ${dir} first on PATH, or in VS Code settings.json: "go.alternateTools": { "gopls": ${JSON.stringify(shim)} }\n`);
  return shim;
}
