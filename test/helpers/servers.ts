// The real language servers beyond gopls that scripts/setup.sh installs: clangd and pylsp from
// Debian, bash-language-server, typescript-language-server (with typescript 5's tsserver) from
// test/servers/package.json, TypeScript 7's native server from test/servers/typescript-7. Each
// is found where the project installs it; a missing one skips with the reason outside CI and
// fails under CI=true.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './index';
import { which } from './capabilities';

export type ServerName = 'clangd' | 'pylsp' | 'bash-language-server' | 'typescript-language-server' | 'tsc';

export const SERVER_NAMES: readonly ServerName[] = ['clangd', 'pylsp', 'bash-language-server', 'typescript-language-server', 'tsc'];

export interface LocatedServer {
  name: ServerName;
  /** argv that starts it speaking LSP on stdio. */
  command: string[];
  /** The language id a client sends in didOpen for this server's files. */
  languageId: string;
}

export const SERVERS_DIR = path.join(repoRoot, 'test', 'servers');
const nodeModules = path.join(SERVERS_DIR, 'node_modules');
const ts7Modules = path.join(SERVERS_DIR, 'typescript-7', 'node_modules');

/** typescript 5's tsserver, the one typescript-language-server starts (resolved from its own package). */
export const TSSERVER_JS = path.join(nodeModules, 'typescript', 'lib', 'tsserver.js');

/** TypeScript 7's Go binary: `typescript/bin/tsc` is a node wrapper that runs this file. */
export const TSC7_BINARY = path.join(ts7Modules, '@typescript', `typescript-${process.platform}-${process.arch}`, 'lib', 'tsc');

const setupHint = 'run scripts/setup.sh';

function existing(file: string, what: string): string {
  if (!fs.existsSync(file)) throw new Error(`${what} is not installed (${file} is missing; ${setupHint})`);
  return file;
}

/** The interpreter named on a script's `#!` line (pylsp's python, whichever one pip or apt used). */
function shebangInterpreter(script: string): string {
  const first = fs.readFileSync(script, 'utf8').split('\n', 1)[0];
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
  if (m === null) throw new Error(`${script} has no #! line`);
  // `#!/usr/bin/env python3` names the interpreter in its argument.
  return path.basename(m[1]) === 'env' && m[2] !== undefined ? m[2] : m[1];
}

function locate(name: ServerName): LocatedServer {
  switch (name) {
    case 'clangd': {
      const bin = which('clangd');
      if (bin === null) throw new Error(`clangd is not on PATH (${setupHint})`);
      return { name, command: [bin], languageId: 'c' };
    }
    case 'pylsp': {
      // `python3 -m pylsp` with the python pylsp was installed for (PATH's python3 may be another).
      const script = which('pylsp');
      if (script === null) throw new Error(`pylsp is not on PATH (${setupHint})`);
      return { name, command: [shebangInterpreter(script), '-m', 'pylsp'], languageId: 'python' };
    }
    case 'bash-language-server':
      return { name, command: [process.execPath, existing(path.join(nodeModules, 'bash-language-server', 'out', 'cli.js'), name), 'start'], languageId: 'shellscript' };
    case 'typescript-language-server':
      existing(TSSERVER_JS, 'typescript 5 (tsserver)');
      return { name, command: [process.execPath, existing(path.join(nodeModules, 'typescript-language-server', 'lib', 'cli.mjs'), name), '--stdio'], languageId: 'typescript' };
    case 'tsc':
      return { name, command: [existing(TSC7_BINARY, 'TypeScript 7 (tsc --lsp)'), '--lsp', '--stdio'], languageId: 'typescript' };
  }
}

/** The server, or why it cannot run here. */
export function findServer(name: ServerName): LocatedServer | { missing: string } {
  try { return locate(name); } catch (err) { return { missing: (err as Error).message }; }
}

/**
 * `{ server }` when installed; `{ skip }` with the reason outside CI. Under CI=true a missing
 * server fails here, since setup.sh installs every one of them.
 */
export function serverOrSkip(name: ServerName): { server: LocatedServer; skip?: undefined } | { server?: undefined; skip: string } {
  const found = findServer(name);
  if (!('missing' in found)) return { server: found };
  assert.ok(process.env.CI !== 'true', `CI=true: ${found.missing}`);
  return { skip: found.missing };
}
