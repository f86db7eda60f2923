// `--bpf MODE` for a server lsptap starts as a child: the probes load before the server
// starts (so --bpf=require can refuse cleanly), and the hook starts timing for the session.
// One place for `lsptap -- COMMAND` and for lsptap standing in for gopls (the shim).

import type { ChildProcess } from 'node:child_process';
import { LoadedProbes, startKernelTiming, startSocketKernelTiming, type BpfMode, type KernelTimingSession } from '../probes/kernel-timing';
import type { SocketPeer } from './socket-peer';
import type { SessionAttachment } from './relay-session';
import type { SessionLogChild } from '../sinks/session-log';

/** A startup failure with its fix, for stderr; exit code 1. */
export class StartupError extends Error {}

export interface KernelOption {
  hook: (server: ChildProcess, logChild: SessionLogChild) => SessionAttachment;
  /** `--connect`: the server is the process at the socket's far end (one session only). */
  socketHook: (peer: SocketPeer, logChild: SessionLogChild) => SessionAttachment;
  /** Release the probes when the session never starts. */
  close(): void;
}

export function prepareKernelTiming(mode: BpfMode): KernelOption {
  let probes: LoadedProbes | null = null;
  let bpfOff: string | null = mode === 'off' ? 'turned off with --bpf=off' : null;
  if (mode !== 'off') {
    try {
      probes = LoadedProbes.load();
    } catch (err) {
      if (mode === 'require') throw new StartupError(`lsptap: --bpf=require: kernel timing cannot start: ${(err as Error).message}`);
      bpfOff = (err as Error).message;
    }
  }
  const attach = (start: (p: LoadedProbes) => KernelTimingSession, stopServer: () => void, logChild: SessionLogChild): SessionAttachment => {
    // The hook runs just before `session start` is written; warn right after it, not before.
    const warnOff = (reason: string | null): void => queueMicrotask(() => logChild.warn('kernel timing off', { reason }));
    if (probes === null) {
      if (mode !== 'off') warnOff(bpfOff);
      return {};
    }
    try {
      return start(probes);
    } catch (err) {
      probes.close();
      const reason = (err as Error).message;
      if (mode === 'require') {
        process.stderr.write(`lsptap: --bpf=require: kernel timing cannot start: ${reason}\n`);
        logChild.error('kernel timing failed to start', { reason });
        stopServer();
      } else {
        warnOff(reason);
      }
      return {};
    }
  };
  return {
    hook: (server, logChild) => attach((p) => startKernelTiming(p, server, logChild), () => server.kill('SIGTERM'), logChild),
    socketHook: (peer, logChild) => attach((p) => startSocketKernelTiming(p, peer, logChild), () => peer.socket.destroy(), logChild),
    close: () => probes?.close(),
  };
}
