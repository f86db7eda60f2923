// Kernel timing for one stdio session: loads bpf/io.bpf.o and bpf/sched.bpf.o before the
// server starts (so `--bpf=require` can refuse early), then, once the server runs, fills
// the watched_pids/watched_fds maps, drains both ring buffers from an unref'd timer and
// hands the session a KernelStage that fills `rec.kernel`.

import fs from 'node:fs';
import { loadBpf, precheck, mapPut, u32Key, readCounters, BpfLoadError, type LoadedBpf } from './loader';
import { RingReader } from './ring-reader';
import { decodeIoEvent, decodeSchedEvent, IO_COUNTERS, SCHED_COUNTERS } from './event-layout';
import { KernelStage, type StreamFds } from './kernel-stage';
import { findReaderOf, findWriterOf } from './peer-process';
import { bytesWaiting } from './native';

import type { BpfMode } from '../model/stages';
export type { BpfMode };

/** How often the rings are drained. */
export const DRAIN_INTERVAL_MS = 5;
/** How long a record may wait for the far end's read before it is logged without it. */
export const DEFAULT_HOLD_MS = 1000;

const IO_PROGRAMS = ['handle_sys_enter', 'handle_sys_exit'];
export const SCHED_BTF = ['handle_sched_switch_btf', 'handle_sched_wakeup_btf', 'handle_sched_wakeup_new_btf'];
export const SCHED_RAW = ['handle_sched_switch_raw', 'handle_sched_wakeup_raw', 'handle_sched_wakeup_new_raw'];

export const ROLE_LSPTAP = 1;
export const ROLE_SERVER = 2;
export const ROLE_EDITOR = 3;

/** Both objects loaded and attached, maps empty: nothing is traced yet. */
export class LoadedProbes {
  private constructor(readonly io: LoadedBpf, readonly sched: LoadedBpf, readonly schedVariant: string, readonly loadMs: number) {}

  /** Load and attach; throws BpfLoadError naming the step, errno and fix. */
  static load(): LoadedProbes {
    const t0 = process.hrtime.bigint();
    precheck();
    const io = loadBpf({ file: 'io.bpf.o', programs: IO_PROGRAMS, allPrograms: IO_PROGRAMS });
    let sched: LoadedBpf;
    let variant = 'tp_btf';
    try {
      sched = loadBpf({ file: 'sched.bpf.o', programs: SCHED_BTF, allPrograms: [...SCHED_BTF, ...SCHED_RAW] });
    } catch (btfErr) {
      // As bcc's runqlat: tp_btf first, raw_tp where the kernel lacks BTF tracepoints.
      try {
        sched = loadBpf({ file: 'sched.bpf.o', programs: SCHED_RAW, allPrograms: [...SCHED_BTF, ...SCHED_RAW] });
        variant = 'raw_tp';
      } catch {
        io.close();
        throw btfErr;
      }
    }
    return new LoadedProbes(io, sched, variant, Number(process.hrtime.bigint() - t0) / 1e6);
  }

  close(): void { this.io.close(); this.sched.close(); }
}

export interface KernelTimingSession {
  stage: KernelStage;
  extraStart: Record<string, unknown>;
  stop: () => Promise<Record<string, unknown>>;
  /** Events the kernel dropped so far (ring buffers full), read from the counter maps. */
  kernelDrops: () => number;
}

/** Start tracing this session's processes; the stage goes into the Session. */
export function startKernelTiming(probes: LoadedProbes, server: { serverPid: number; toServerFd: number; fromServerFd: number }, log: { warn(msg: string, fields: Record<string, unknown>): void }, holdMs = DEFAULT_HOLD_MS): KernelTimingSession {
  const editor = findReaderOf(1);
  const writer = findWriterOf(0);
  const fds: StreamFds = {
    lsptapPid: process.pid, serverPid: server.serverPid, editorPid: editor?.pid ?? null,
    lsptapIn: 0, lsptapOut: 1, lsptapToServer: server.toServerFd, lsptapFromServer: server.fromServerFd,
    editorIn: editor?.fd ?? null, editorWriterPid: writer?.pid ?? null, editorOut: writer?.fd ?? null,
  };
  return traceSession(probes, fds, log, holdMs);
}

/** The same for `lsptap --connect`: the server is the process holding the socket's far end. */
export function startSocketKernelTiming(probes: LoadedProbes, peer: { fd: number | null; pid: number | null; peerFd: number | null }, log: { warn(msg: string, fields: Record<string, unknown>): void }, holdMs = DEFAULT_HOLD_MS): KernelTimingSession {
  if (peer.fd === null || peer.pid === null || peer.peerFd === null) throw new BpfLoadError('watch', 0, 'the process or fd at the server end of the socket was not found', 'run lsptap as root or as the server\'s user, with ss (iproute2) installed');
  const editor = findReaderOf(1);
  const writer = findWriterOf(0);
  const fds: StreamFds = {
    lsptapPid: process.pid, serverPid: peer.pid, editorPid: editor?.pid ?? null,
    lsptapIn: 0, lsptapOut: 1, lsptapToServer: peer.fd, lsptapFromServer: peer.fd,
    editorIn: editor?.fd ?? null, serverIn: peer.peerFd, serverOut: peer.peerFd,
    editorWriterPid: writer?.pid ?? null, editorOut: writer?.fd ?? null,
  };
  return traceSession(probes, fds, log, holdMs);
}

function traceSession(probes: LoadedProbes, fds: StreamFds, log: { warn(msg: string, fields: Record<string, unknown>): void }, holdMs: number): KernelTimingSession {
  // Tests only: start watching late, as when a server's first read began before we did.
  const lateMs = Number(process.env.LSPTAP_TEST_WATCH_DELAY_MS ?? 0);
  if (lateMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, lateMs);
  const ioPids = probes.io.mapFd('watched_pids');
  const ioFds = probes.io.mapFd('watched_fds');
  const watchFd = (pid: number, fd: number): void => {
    const k = Buffer.alloc(8);
    k.writeUInt32LE(pid, 0);
    k.writeInt32LE(fd, 4);
    mapPut(ioFds, k, 1);
  };
  // fds first, pids last: a pid in watched_pids is what turns tracing on.
  for (const fd of [fds.lsptapIn, fds.lsptapOut, fds.lsptapToServer, fds.lsptapFromServer]) watchFd(fds.lsptapPid, fd);
  watchFd(fds.serverPid, fds.serverIn ?? 0);
  watchFd(fds.serverPid, fds.serverOut ?? 1);
  if (fds.editorPid !== null && fds.editorIn !== null) watchFd(fds.editorPid, fds.editorIn);
  const writerPid = fds.editorWriterPid ?? null, writerFd = fds.editorOut ?? null;
  if (writerPid !== null && writerFd !== null) watchFd(writerPid, writerFd);
  mapPut(probes.sched.mapFd('watched_pids'), u32Key(fds.serverPid), 1);
  mapPut(ioPids, u32Key(fds.lsptapPid), ROLE_LSPTAP);
  mapPut(ioPids, u32Key(fds.serverPid), ROLE_SERVER);
  if (fds.editorPid !== null) mapPut(ioPids, u32Key(fds.editorPid), ROLE_EDITOR);
  if (writerPid !== null && writerFd !== null) {
    mapPut(ioPids, u32Key(writerPid), ROLE_EDITOR);
    // The editor may have written before we watched (it often writes `initialize` while
    // lsptap starts). lsptap has read nothing yet (the relay holds until we are ready), so
    // what waits in the pipe is what the editor wrote so far; its writes returned before
    // now are in that count. A write that returns between the two readings is the only
    // one that could be counted twice (a window of microseconds).
    const bytes = bytesWaiting(fds.lsptapIn);
    const untilNs = Number(process.hrtime.bigint());
    if (bytes === null) fds.editorOut = null;
    else fds.editorOutBefore = { bytes, untilNs };
  }

  const ioRing = new RingReader(probes.io.mapFd('events'), probes.io.mapMaxEntries('events'));
  const schedRing = new RingReader(probes.sched.mapFd('events'), probes.sched.mapMaxEntries('events'));
  const traceFd = process.env.LSPTAP_BPF_TRACE ? fs.openSync(process.env.LSPTAP_BPF_TRACE, 'w') : null;
  let drainNs = 0n;
  let drains = 0;
  const drain = (): void => {
    const t0 = process.hrtime.bigint();
    // Scheduler events first: a record's window is complete once its io events are in.
    schedRing.drain((b, at) => stage.onSched(decodeSchedEvent(b, at)));
    ioRing.drain((b, at) => { const e = decodeIoEvent(b, at); if (traceFd !== null) fs.writeSync(traceFd, JSON.stringify(e) + '\n'); stage.onIo(e); });
    drainNs += process.hrtime.bigint() - t0;
    drains++;
  };
  const stage = new KernelStage(fds, holdMs, drain);
  const timer = setInterval(() => {
    if (stage.heldCount > 0) stage.pump(false);
    else drain();
  }, DRAIN_INTERVAL_MS);
  timer.unref();

  let stopped = false;
  let lastDrops = 0;
  // Two map reads (two FFI calls): for a periodic metrics scrape, never per message.
  const kernelDrops = (): number => {
    if (stopped) return lastDrops;
    const io = readCounters(probes.io.mapFd('io_counters'), IO_COUNTERS.length);
    const sc = readCounters(probes.sched.mapFd('sched_counters'), SCHED_COUNTERS.length);
    lastDrops = io[1] + io[2] + sc[1];
    return lastDrops;
  };
  const stop = async (): Promise<Record<string, unknown>> => {
    if (stopped) return {};
    stopped = true;
    clearInterval(timer);
    drain();
    await stage.flush();
    const io = readCounters(probes.io.mapFd('io_counters'), IO_COUNTERS.length);
    const sc = readCounters(probes.sched.mapFd('sched_counters'), SCHED_COUNTERS.length);
    ioRing.close();
    schedRing.close();
    probes.close();
    const events = ioRing.records + schedRing.records;
    const ioDrops = io[1] + io[2];
    lastDrops = ioDrops + sc[1];
    if (ioDrops + sc[1] > 0) log.warn('kernel timing lost events', { ioDrops, schedDrops: sc[1], hint: 'the ring buffers filled faster than lsptap drained them; affected fields may be null or off' });
    return {
      kernel: {
        ioEvents: io[0], ioDrops, schedEvents: sc[0], schedDrops: sc[1],
        eventsRead: events, drains, drainMs: Math.round(Number(drainNs) / 1e4) / 100,
        strayEvents: stage.strayEvents,
      },
    };
  };
  return {
    stage,
    extraStart: {
      kernel: {
        loadMs: Math.round(probes.loadMs * 10) / 10, sched: probes.schedVariant,
        editorPid: fds.editorPid, editorFd: fds.editorIn,
        editorWriterPid: fds.editorOut == null ? null : fds.editorWriterPid, editorWriterFd: fds.editorOut ?? null,
        editorBytesBefore: fds.editorOutBefore?.bytes ?? null, serverFds: [fds.serverIn ?? 0, fds.serverOut ?? 1],
        lsptapFds: { clientIn: fds.lsptapIn, clientOut: fds.lsptapOut, toServer: fds.lsptapToServer, fromServer: fds.lsptapFromServer },
      },
    },
    stop,
    kernelDrops,
  };
}
