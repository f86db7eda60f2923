// `--bpf MODE`, on the analysis thread: the probes load once, before any server starts (so
// --bpf=require can refuse cleanly), and attach() starts timing one session. One place for
// `lsptap -- COMMAND`, `--connect` and lsptap standing in for gopls (the shim), where the
// one session owns the probes, and `--listen`, where every connection shares them.

import type { LoadedProbes, ProfileSinkFactory } from './kernel-timing';
import type { ListenKernelTiming } from './listen-kernel-timing';
import type { BpfMode, KernelTiming, KernelLog } from '../model/stages';
import { StartupError } from '../model/errors';
import type { KernelTarget } from '../bridge/protocol';

export interface KernelAttachResult {
  /** Kernel timing for this session, or null when it is off. */
  kernel: KernelTiming | null;
  /** --bpf=require and timing could not start for this session: the sentence for stderr. */
  refuse: string | null;
  /** Kernel timing is off for this session: write `kernel timing off` with this reason right after `session start`. */
  off: { reason: string | null } | null;
}

export interface KernelOption {
  readonly loaded: boolean;
  /** Start timing a session; with no target (or no probes) say why it is off. */
  /** profileSink: the session's profile file, opened when profiling starts. */
  attach(target: KernelTarget | null, log: KernelLog, offReason: string | null, profileSink?: ProfileSinkFactory | null): KernelAttachResult;
  /** Release the probes when no session used them. */
  close(): void;
}

/** profileHz: --profile-hz; the profiler's programs are attached only above 0. */
export function prepareKernelTiming(mode: BpfMode, profileHz = 0): KernelOption {
  // Loaded only when asked for: it brings in ffi-rs, which the relay thread must then have
  // loaded first (analysis-link.ts).
  const kt = mode === 'off' ? null : require('./kernel-timing') as typeof import('./kernel-timing');
  let probes: LoadedProbes | null = null;
  let shared: ListenKernelTiming | null = null;
  let bpfOff: string | null = mode === 'off' ? 'turned off with --bpf=off' : null;
  if (kt !== null) {
    try {
      probes = loadProbes(kt, profileHz);
    } catch (err) {
      if (mode === 'require') throw new StartupError(`lsptap: --bpf=require: kernel timing cannot start: ${(err as Error).message}`);
      bpfOff = (err as Error).message;
    }
  }
  const failed = (err: unknown, log: KernelLog): KernelAttachResult => {
    const reason = (err as Error).message;
    if (mode === 'require') {
      log.error('kernel timing failed to start', { reason });
      return { kernel: null, refuse: `lsptap: --bpf=require: kernel timing cannot start: ${reason}`, off: null };
    }
    return { kernel: null, refuse: null, off: { reason } };
  };
  return {
    loaded: probes !== null,
    attach: (target, log, offReason, profileSink = null) => {
      if (kt !== null && target?.kind === 'connection' && (shared !== null || probes !== null)) {
        const ct = require('./listen-kernel-timing') as typeof import('./listen-kernel-timing');
        try {
          if (shared === null) {
            shared = new ct.ListenKernelTiming(probes!);
            probes = null; // the listener's shared timing owns them now
          }
          return { kernel: shared.attach(ct.resolveConnection(target), log), refuse: null, off: null };
        } catch (err) {
          return failed(err, log);
        }
      }
      if (kt === null || probes === null || target === null || target.kind === 'connection') {
        // Probes that failed to load say why first: the relay asks before it knows.
        const off = bpfOff !== null && mode !== 'off' ? { reason: bpfOff } : offReason !== null ? { reason: offReason } : mode !== 'off' ? { reason: bpfOff } : null;
        return { kernel: null, refuse: null, off };
      }
      const p = probes;
      probes = null; // the session owns them now: closed when it stops, or here on failure
      try {
        const timing: KernelTiming = target.kind === 'child' ? kt.startKernelTiming(p, target, log, undefined, profileSink, true) : kt.startSocketKernelTiming(p, target, log, undefined, profileSink);
        return { kernel: timing, refuse: null, off: null };
      } catch (err) {
        p.close();
        return failed(err, log);
      }
    },
    close: () => { probes?.close(); probes = null; shared?.close(); shared = null; },
  };
}

/**
 * The probes with the profiler when asked for; if the kernel refuses its programs (they
 * need Linux 6.7+), kernel timing loads without them, and the reason is kept for the
 * `profiling off` warn line of each session.
 */
function loadProbes(kt: typeof import('./kernel-timing'), profileHz: number): LoadedProbes {
  if (profileHz <= 0) return kt.LoadedProbes.load();
  try {
    return kt.LoadedProbes.load({ profileHz });
  } catch (err) {
    const probes = kt.LoadedProbes.load();
    probes.profileOff = `the profiler's programs did not load: ${(err as Error).message}`;
    return probes;
  }
}
