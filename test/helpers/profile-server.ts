// The profiler's test server (test/fixtures/profile-server/main.go), built by the test with
// the Go toolchain: stripped (-s -w, as Debian's gopls is), and a symbol-table copy whose
// function ranges (`go tool nm -size`) are the tests' truth about which code ran.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fixtures } from './index';

export const PROFILE_SERVER_SOURCE = path.join(fixtures, 'profile-server', 'main.go');

/** Why Go cannot build here, or false; under CI=true a missing toolchain fails. */
export function goSkip(): string | false {
  try { execFileSync('go', ['version'], { stdio: 'ignore' }); } catch {
    assert.ok(process.env.CI !== 'true', 'CI=true: go must be installed (scripts/setup.sh)');
    return 'the Go toolchain is not installed (scripts/setup.sh installs golang-go)';
  }
  return false;
}

export interface BuiltServer {
  /** Built with -ldflags='-s -w': no symbol table, .gopclntab kept. */
  stripped: string;
  /** The same source and flags but the symbol table: `go tool nm` reads it. */
  withSymbols: string;
  /** Function name -> [start, end) addresses, from the symbol-table copy. */
  functions: Map<string, { start: bigint; end: bigint }>;
}

/** Build both binaries into dir (the Go build cache goes there too). */
export function buildProfileServer(dir: string): BuiltServer {
  const env = { ...process.env, GOCACHE: path.join(dir, 'gocache'), GOPATH: path.join(dir, 'gopath'), GOFLAGS: '', CGO_ENABLED: '0' };
  const src = path.join(dir, 'main.go');
  fs.copyFileSync(PROFILE_SERVER_SOURCE, src);
  const stripped = path.join(dir, 'profile-server');
  const withSymbols = path.join(dir, 'profile-server-symbols');
  execFileSync('go', ['build', '-ldflags=-s -w', '-o', stripped, src], { cwd: dir, env, stdio: 'pipe' });
  execFileSync('go', ['build', '-o', withSymbols, src], { cwd: dir, env, stdio: 'pipe' });
  const functions = new Map<string, { start: bigint; end: bigint }>();
  for (const line of execFileSync('go', ['tool', 'nm', '-size', withSymbols], { env, encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')) {
    const m = /^\s*([0-9a-f]+)\s+(\d+)\s+T\s+(\S+)$/.exec(line);
    if (m !== null) functions.set(m[3], { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[1]}`) + BigInt(m[2]) });
  }
  return { stripped, withSymbols, functions };
}

/** One LSP message with Content-Length framing. */
export function lspFrame(body: object): Buffer {
  const b = Buffer.from(JSON.stringify(body));
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
}
