// The server side of a session, whatever carries it: a child process's stdin/stdout, or a
// socket to a listening server (the gopls daemon). The session runner (relay-session.ts)
// drives both through this one interface, so lifetime rules live in one place.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { processCpuMs, reapedChildrenCpuMs } from './cpu-time';

/** How the server side went away. */
export interface ServerGone {
  /** The child's exit code (null for a socket or a signal). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** What lsptap itself exits with; cleanEnd says the client had finished (EOF or `exit`). */
  lsptapExitCode: (cleanEnd: boolean) => number;
  /** Set when the end was abnormal (socket error, closed mid-message...). */
  error: string | null;
}

export interface ServerLink {
  readonly kind: 'child' | 'socket';
  /** Bytes to the server. */
  readonly input: Writable;
  /** Bytes from the server. */
  readonly output: Readable;
  /** Fields for the `session start` line (transport, command or address, serverPid). */
  readonly startFields: Record<string, unknown>;
  /** The client closed its end: close ours towards the server. */
  endInput(): void;
  /** The server outlived the grace period: step 0 asks it to stop, step 1 forces it. */
  stop(step: 0 | 1): void;
  /** lsptap got a signal; count is how many so far. */
  forwardSignal(signal: NodeJS.Signals, count: number): void;
  /** Called once when the server side is gone. */
  onGone(cb: (gone: ServerGone) => void): void;
  /** The server's CPU over the session so far (its reaped descendants' included), in ms; null when unknown. */
  cpuMs(): number | null;
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (os.constants.signals[signal] ?? 0);
  return 1;
}

/** Remembers how the server went, for a listener that subscribes later. */
class GoneLatch {
  private value: ServerGone | null = null;
  private cb: ((gone: ServerGone) => void) | null = null;

  set(gone: ServerGone): void {
    if (this.value !== null) return;
    this.value = gone;
    this.cb?.(gone);
  }

  on(cb: (gone: ServerGone) => void): void {
    this.cb = cb;
    if (this.value !== null) cb(this.value);
  }
}

/** A spawned server. spawn() never throws for a missing command: failures come as 'error'. */
export class ChildServerLink implements ServerLink {
  readonly kind = 'child' as const;
  readonly input: Writable;
  readonly output: Readable;
  readonly startFields: Record<string, unknown>;

  private readonly gone = new GoneLatch();
  /** Our reaped children's CPU at spawn, and once this one was reaped (10 ms ticks). */
  private readonly reapedAtSpawnMs = reapedChildrenCpuMs();
  private reapedAtExitMs: number | null = null;

  constructor(readonly child: ChildProcess, command: string[]) {
    this.input = child.stdin!;
    this.output = child.stdout!;
    this.startFields = { transport: 'stdio', command, serverPid: child.pid ?? null };
    // Listen from the start: the server may exit before the session is set up.
    child.once('exit', (code, signal) => {
      this.reapedAtExitMs = reapedChildrenCpuMs();
      this.gone.set({ exitCode: code, signal, lsptapExitCode: () => exitCodeOf(code, signal), error: null });
    });
  }

  /**
   * Running: its /proc figure. Reaped: what our children's total grew by since it was
   * spawned (with --listen and overlapping sessions, other servers reaped meanwhile too).
   */
  cpuMs(): number | null {
    if (this.reapedAtExitMs === null) return this.child.pid === undefined ? null : processCpuMs(this.child.pid);
    return this.reapedAtSpawnMs === null ? null : this.reapedAtExitMs - this.reapedAtSpawnMs;
  }

  endInput(): void { this.input.end(); }

  stop(step: 0 | 1): void { this.child.kill(step === 0 ? 'SIGTERM' : 'SIGKILL'); }

  forwardSignal(signal: NodeJS.Signals, count: number): void {
    if (count > 1 && signal !== 'SIGHUP') this.child.kill('SIGKILL');
    else this.child.kill(signal);
  }

  onGone(cb: (gone: ServerGone) => void): void { this.gone.on(cb); }
}

export type SpawnResult =
  | { ok: true; link: ChildServerLink }
  | { ok: false; exitCode: number; message: string; code: string | null };

/**
 * util-linux's setpriv, by absolute path (PATH is the editor's): it sets the parent-death
 * signal between fork and exec, then execs the server in its own process (same pid, same
 * argv, same environment). Node forks from the main thread, and the signal fires when the
 * forking thread dies, which for the main thread is when lsptap does.
 */
export const SETPRIV = '/usr/bin/setpriv';

/**
 * Find the command as execvp(3) would (with the server's PATH), so that a missing or
 * non-executable server is still reported by lsptap (127, 126) rather than by setpriv.
 */
export function findCommand(command: string, env: NodeJS.ProcessEnv): 'ok' | 'ENOENT' | 'EACCES' {
  const usable = (file: string): 'ok' | 'ENOENT' | 'EACCES' => {
    let st: fs.Stats;
    try { st = fs.statSync(file); } catch { return 'ENOENT'; }
    if (!st.isFile()) return 'EACCES';
    try { fs.accessSync(file, fs.constants.X_OK); return 'ok'; } catch { return 'EACCES'; }
  };
  if (command === '') return 'ENOENT';
  if (command.includes('/')) return usable(command);
  let denied = false;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const found = usable(path.join(dir === '' ? '.' : dir, command));
    if (found === 'ok') return 'ok';
    if (found === 'EACCES') denied = true;
  }
  return denied ? 'EACCES' : 'ENOENT';
}

function spawnFailure(code: string | undefined, message: string): SpawnResult {
  const hint = code === 'ENOENT' ? 'not found; check the command after -- (and PATH)' : code === 'EACCES' ? 'permission denied; is it executable?' : message;
  return { ok: false, exitCode: code === 'ENOENT' ? 127 : 126, message: hint, code: code ?? null };
}

/**
 * Spawn the server without a shell, tied to lsptap's life (docs/hardening.md "Reliability": killed with
 * SIGKILL when lsptap dies, however it dies); resolves once it is running or has failed to start.
 */
export function spawnServer(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<SpawnResult> {
  return new Promise((resolve) => {
    const withSetpriv = fs.existsSync(SETPRIV);
    if (withSetpriv) {
      const found = findCommand(command, env ?? process.env);
      if (found !== 'ok') { resolve(spawnFailure(found, found)); return; }
    }
    let child: ChildProcess;
    try {
      child = withSetpriv
        ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], { stdio: ['pipe', 'pipe', 'inherit'], shell: false, ...(env !== undefined ? { env } : {}) })
        : spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], shell: false, ...(env !== undefined ? { env } : {}) });
    } catch (err) {
      resolve({ ok: false, exitCode: 127, message: (err as Error).message, code: null });
      return;
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // a later error: the runner logs it
      resolve(spawnFailure(err.code, err.message));
    });
    if (child.pid !== undefined) resolve({ ok: true, link: new ChildServerLink(child, [command, ...args]) });
  });
}

/**
 * A connection to a listening server. There is no exit code: lsptap exits 0 when the
 * client finished first (EOF or `exit`), 1 when the server closed or broke the connection
 * under a live client, 128+N when lsptap was stopped by signal N.
 */
export class SocketServerLink implements ServerLink {
  readonly kind = 'socket' as const;
  readonly input: Writable;
  readonly output: Readable;
  readonly startFields: Record<string, unknown>;
  private error: string | null = null;
  private signal: NodeJS.Signals | null = null;
  private readonly gone = new GoneLatch();
  private readonly serverPid: number | null;
  private readonly cpuAtStartMs: number | null;

  constructor(readonly socket: Socket, fields: Record<string, unknown>) {
    this.input = socket;
    this.output = socket;
    this.startFields = fields;
    this.serverPid = typeof fields.serverPid === 'number' ? fields.serverPid : null;
    this.cpuAtStartMs = this.serverPid === null ? null : processCpuMs(this.serverPid);
    socket.on('error', (err) => { this.error ??= err.message; });
    // The server closed its end: close ours too, so the connection is gone at once and the
    // client hears about it as soon as it would have without lsptap.
    socket.once('end', () => socket.end());
    socket.once('close', () => {
      const signal = this.signal;
      const error = this.error;
      const lsptapExitCode = (cleanEnd: boolean): number => signal !== null ? exitCodeOf(null, signal) : error === null && cleanEnd ? 0 : 1;
      this.gone.set({ exitCode: null, signal, lsptapExitCode, error });
    });
  }

  endInput(): void { this.socket.end(); }

  stop(): void { this.socket.destroy(); }

  forwardSignal(signal: NodeJS.Signals): void {
    this.signal ??= signal;
    this.socket.destroy();
  }

  onGone(cb: (gone: ServerGone) => void): void { this.gone.on(cb); }

  /** The daemon's CPU while this connection lasted (it may have served other clients too). */
  cpuMs(): number | null {
    const now = this.serverPid === null ? null : processCpuMs(this.serverPid);
    return now === null || this.cpuAtStartMs === null ? null : now - this.cpuAtStartMs;
  }
}
