// Kernel timing for one session: loads bpf/.output/lsptap.bpf.o before the server
// starts (so `--bpf=require` can refuse early), then, once the server runs, a KernelSession
// fills the watched maps, drains the rings from an unref'd timer and hands the session a
// KernelStage that fills `rec.kernel`. The session owns everything it made (maps filled,
// feed, stage, timer) and releases it in stop().

import fs from 'node:fs';
import { loadBpf, precheck, mapTryPut, watchStream, readCounters, readHashMap, BpfLoadError, type LoadedBpf } from './loader';
import { IO_COUNTERS, TREE_COUNTERS, TreeCounter, WatchedRole, SERVER_FD, IO_FD_KEY, decodeServerFd, type ServerFd } from './event-layout';
import { KernelStage, type FarStream, type StreamFds } from './kernel-stage';
import type { InFlightCall, InFlightRule } from './byte-streams';
import type { IoEvent } from './event-layout';
import { KernelFeed } from './kernel-feed';
import { ProfileStage, type ProfileSampleSink } from './profile-stage';
import { watchedPids } from './watched-pids';
import { TreeAccounting, ARGS_BYTES } from './tree-accounting';
import { claimChildSlots } from './child-slots';
import { findStdioPeers, descendantsOf, threadsAsleep, runningProcess, type RunningProcess } from './peer-process';
import { bytesWaiting } from './native';
import { currentThreadId } from './thread-id';
import type { FdReport, MessageRecord } from '../model/record';
import type { KernelLog, KernelTiming, RecordStage, StreamCut, Waiting } from '../model/stages';

import type { BpfMode } from '../model/stages';
export type { BpfMode };

/** How often the rings are drained while a record waits for its far end's read. */
export const DRAIN_INTERVAL_MS = 5;
/**
 * How often otherwise. A pushed record drains at once, so this only keeps the rings from
 * filling: the tree ring's 2 MiB hold some 7,900 snapshots or 4,700 execs (the server's fd
 * opens and closes stay in the kernel). Every 5 ms it was 200 wake-ups a second for
 * nothing, most of lsptap's CPU in a long gopls session with few messages (`npm run
 * bench`, gopls).
 */
export const IDLE_DRAIN_INTERVAL_MS = 200;
/**
 * While idle drains find nothing, each waits twice as long as the last, up to this: an
 * editor left open all day costs two wake-ups a second, not five. The first record found,
 * or message pushed, brings the pace back to IDLE_DRAIN_INTERVAL_MS. Not longer: a 50 MB
 * message read by the server 4 KB at a time makes 12,800 snapshots a second with no record
 * pushed until its end, and the tree ring holds 7,900 (bpf/tree.bpf.c).
 */
export const IDLE_DRAIN_MAX_MS = 500;
/** How long a record may wait for the far end's read before it is logged without it. */
export const DEFAULT_HOLD_MS = 1000;

/** The objects under bpf/.output: kernel timing alone (--profile-hz 0), and with the profiler linked in. */
export const BPF_OBJECT = 'lsptap.bpf.o';
export const PROFILE_BPF_OBJECT = 'lsptap-profile.bpf.o';
export const IO_PROGRAMS = ['handle_sys_enter', 'handle_sys_exit'];
export const TREE_PROGRAMS = [
  'handle_sched_switch', 'handle_sched_wakeup', 'handle_sched_wakeup_new', 'handle_sched_process_fork',
  'handle_sched_process_exec', 'handle_sched_process_exit', 'handle_page_cache_add', 'handle_block_io_start',
  'handle_block_io_done',
];

/** Opens a session's profile file at the sampling rate; null when the session has none (a log on stderr). */
export type ProfileSinkFactory = (hz: number) => ProfileSampleSink | null;

/** The profiler's programs (bpf/profile.bpf.c): attached only with --profile-hz above 0. */
export const PROFILE_ATTACHED = ['handle_profile_switch'];
/** Linked to perf events by ProfileSampler, not attached by the loader. */
export const PROFILE_LINKED = ['handle_profile_sample'];

/**
 * The programs loaded and attached, maps empty: nothing is traced yet. One object, io's
 * programs and tree's linked together (scripts/build-bpf.sh): its maps are io_events and
 * io_counters, tree_events, tree_counters and server_fds, and the shared watched_pids
 * and watched_fds. With profiling, the object that also holds the profiler's programs and
 * maps (PROFILE_BPF_OBJECT); without, none of them is loaded.
 */
export class LoadedProbes {
  /** profileHz: the clock rate sessions sample at; 0 when the profiler is not attached. */
  /** Why profiling is off although asked for (the kernel refused its programs), or null. */
  profileOff: string | null = null;

  private constructor(readonly bpf: LoadedBpf, readonly loadMs: number, readonly profileHz: number) {}

  /**
   * Load and attach; throws BpfLoadError naming the step, errno and fix. With profile, the
   * profiler's object: its switch program is attached too and its sampling program loaded,
   * for a ProfileSampler to link to perf events once the server runs.
   */
  static load(opts: { profileHz?: number } = {}): LoadedProbes {
    const t0 = process.hrtime.bigint();
    precheck();
    const hz = opts.profileHz ?? 0;
    const profile = hz > 0;
    const programs = [...IO_PROGRAMS, ...TREE_PROGRAMS, ...(profile ? PROFILE_ATTACHED : [])];
    const all = [...IO_PROGRAMS, ...TREE_PROGRAMS, ...(profile ? [...PROFILE_ATTACHED, ...PROFILE_LINKED] : [])];
    const bpf = loadBpf({ file: profile ? PROFILE_BPF_OBJECT : BPF_OBJECT, programs, loadOnly: profile ? PROFILE_LINKED : [], allPrograms: all });
    return new LoadedProbes(bpf, Number(process.hrtime.bigint() - t0) / 1e6, hz);
  }

  close(): void { this.bpf.close(); }
}

/** What each peer's stream gives, for `kernel timing partial`: the fields that go null when it is lost. */
const STREAM_FIELDS: Record<FarStream, { stream: string; dir: 'c2s' | 's2c'; fields: string[] }> = {
  c2sServerRead: { stream: 'server reads', dir: 'c2s', fields: ['toServerPipeUs', 'serverUs', 'serverCpuUs', 'serverRunqUs', 'serverBlockedUs', 'profile'] },
  s2cServerWrite: { stream: 'server writes', dir: 's2c', fields: ['serverUs', 'serverWriteUs', 'toLsptapPipeUs', 'serverCpuUs', 'serverRunqUs', 'serverBlockedUs', 'profile'] },
  c2sEditorWrite: { stream: 'editor writes', dir: 'c2s', fields: ['fromEditorPipeUs'] },
  s2cEditorRead: { stream: 'editor reads', dir: 's2c', fields: ['toEditorPipeUs'] },
};

/** What the kernel counted: events sent and lost, per object. */
interface KernelCounts { ioEvents: number; ioDrops: number; treeEvents: number; treeDrops: number; fdTableFull: number }

/** One session's tracing, when the session owns the probes. */
export class KernelSession implements KernelTiming {
  /** What the session's records pass through: the kernel stage, with the drain timer kept in step. */
  readonly stage: RecordStage;
  private readonly kernelStage: KernelStage;
  private fastTimer = false;
  /** The idle drain's current interval: doubles while drains find nothing (IDLE_DRAIN_MAX_MS). */
  private idleMs = IDLE_DRAIN_INTERVAL_MS;
  readonly extraStart: Record<string, unknown>;
  private readonly feed: KernelFeed;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastDrops = 0;
  /** The server's open fds when watching began, and how many of them found server_fds full. */
  private startFds = 0;
  private startNotEntered = 0;
  /** The server's descendants running when watching began (a server spawned while the probes loaded), from /proc. */
  private foundRunning: RunningProcess[] = [];
  private childrenAtStart = 0;
  /** --profile-hz: the session's profiling, or null when off or it could not start. */
  private readonly profile: ProfileStage | null;
  private profileOff: string | null = null;

  /** profileSink: opens the session's profile file at the sampling rate (null: none). */
  /** Late sessions: where the streams stood when the relay thread handed over (cut), null before. */
  private cutAt: StreamCut | null = null;
  /** Late sessions: records pushed before the cut's counts came, in order. */
  private beforeCut: Array<{ rec: MessageRecord; next: (rec: MessageRecord) => void }> = [];
  readonly cut?: (at: StreamCut) => void;

  /**
   * late: the session has been relaying since before the probes loaded (a child server,
   * spawned without waiting for them): its streams' counts come from cut(), and until then
   * its records pass without kernel fields.
   */
  constructor(private readonly probes: LoadedProbes, private readonly fds: StreamFds, private readonly log: KernelLog, holdMs = DEFAULT_HOLD_MS, private readonly profileSink: ProfileSinkFactory | null = null, late = false) {
    const startNs = Number(process.hrtime.bigint());
    this.watch(late);
    this.feed = new KernelFeed(probes.bpf, process.env.LSPTAP_BPF_TRACE);
    this.profile = this.startProfile();
    const tree = new TreeAccounting(fds.serverPid, this.startFds, startNs);
    tree.alreadyRunning(this.foundRunning);
    this.childrenAtStart = this.foundRunning.length;
    this.foundRunning = [];
    const stage = new KernelStage(fds, holdMs, this.feed, tree, this.profile);
    this.kernelStage = stage;
    this.stage = {
      push: (rec, next) => {
        // Before the cut's counts arrive (the relay reads again before the analysis has
        // them), records wait: those from the cut's offsets on get kernel fields.
        if (late && this.cutAt === null && !this.stopped) { this.beforeCut.push({ rec, next }); return; }
        this.idleMs = IDLE_DRAIN_INTERVAL_MS; // messages flow: so may kernel events
        stage.push(rec, next);
        // A record now waits for its far end: drain soon, not at the idle pace.
        if (stage.heldCount > 0 && !this.fastTimer && !this.stopped) this.schedule();
      },
      flush: () => { this.passBeforeCut(); return stage.flush(); },
    };
    if (late) {
      stage.awaitStarts();
      this.cut = (at) => this.cutHere(at);
    }
    this.schedule();
    this.extraStart = {
      kernel: {
        loadMs: Math.round(probes.loadMs * 10) / 10, loader: probes.bpf.loader,
        ...(probes.bpf.lightFailure !== null ? { lightFailure: probes.bpf.lightFailure } : {}),
        editorPid: fds.editorPid, editorFd: fds.editorIn,
        editorWriterPid: fds.editorOut == null ? null : fds.editorWriterPid, editorWriterFd: fds.editorOut ?? null,
        editorBytesBefore: fds.editorOutBefore?.bytes ?? null, serverFds: [fds.serverIn ?? 0, fds.serverOut ?? 1],
        lsptapFds: { clientIn: fds.lsptapIn, clientOut: fds.lsptapOut, toServer: fds.lsptapToServer, fromServer: fds.lsptapFromServer },
      },
    };
  }

  /** Sample the server at --profile-hz; a failure turns profiling off (one warn) and kernel timing goes on. */
  private startProfile(): ProfileStage | null {
    if (this.probes.profileOff !== null) {
      this.profileOff = this.probes.profileOff;
      this.log.warn('profiling off', { reason: this.profileOff });
      return null;
    }
    if (this.probes.profileHz <= 0) return null;
    const target = { serverPid: this.fds.serverPid, inFd: this.fds.serverIn ?? 0, outFd: this.fds.serverOut ?? 1 };
    let sink: ProfileSampleSink | null = null;
    try {
      sink = this.profileSink?.(this.probes.profileHz) ?? null;
    } catch (err) {
      this.log.warn('profile file not written', { reason: (err as Error).message });
    }
    try {
      return ProfileStage.start(this.probes.bpf, target, this.probes.profileHz, sink);
    } catch (err) {
      sink?.close();
      this.profileOff = (err as Error).message;
      this.log.warn('profiling off', { reason: this.profileOff });
      return null;
    }
  }

  /** The next drain: soon while records are held, rarely when none is, more rarely while nothing comes. */
  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const stage = this.kernelStage;
    this.fastTimer = stage.heldCount > 0;
    this.timer = setTimeout(() => {
      if (stage.heldCount > 0) stage.pump(false);
      else {
        this.idleMs = stage.drain() > 0 ? IDLE_DRAIN_INTERVAL_MS : Math.min(this.idleMs * 2, IDLE_DRAIN_MAX_MS);
        this.profile?.refreshIdle(); // keeps the kernel's profile maps from filling between responses
      }
      if (!this.stopped) this.schedule();
    }, this.fastTimer ? DRAIN_INTERVAL_MS : this.idleMs);
    this.timer.unref();
  }

  /**
   * The relay thread held both directions, with everything lsptap wrote in the kernel, and
   * gave its counts at cut.atNs and what waited then in each pipe or socket. lsptap's own
   * streams start at its counts (its calls returned by then are in them). The peers' start at
   * lsptap's count on the other end of their pipe, less or plus what waited in it, as the
   * kernel's queue was read; a peer's call under way while it was read is placed by
   * inFlightRead or inFlightWrite, or its stream is lost (`kernel timing partial`). Messages
   * from the cut's offsets on get kernel fields.
   */
  private cutHere(at: StreamCut): void {
    if (this.cutAt !== null || this.stopped) return;
    const s = this.kernelStage, fds = this.fds, w = at.waiting;
    const atNs = Number(at.atNs);
    s.c2sLsptapRead.startAt(at.c2sRead, atNs);
    s.c2sLsptapWrite.startAt(at.c2sWritten, atNs);
    s.s2cLsptapRead.startAt(at.s2cRead, atNs);
    s.s2cLsptapWrite.startAt(at.s2cWritten, atNs);
    const asleep = threadsAsleep([fds.serverPid, fds.editorPid]);
    const asleepNs = Number(process.hrtime.bigint());
    s.drain(); // the peers' calls since the cut, up to now
    // The relay forwarded nothing between the counts and releasedNs: a byte sent after the
    // cut reaches a pipe only after endNs.
    const endNs = Number(at.releasedNs);
    const read = (name: FarStream, q: Waiting): InFlightRule => ({ beganByNs: q.toNs, judge: this.inFlightRead(name, q.bytes, asleep, asleepNs, endNs) });
    const write = (name: FarStream, q: Waiting): InFlightRule => ({ beganByNs: q.toNs, judge: this.inFlightWrite(name) });
    this.cutAt = at;
    const start = (name: FarStream, q: Waiting | null, bytes: (q: Waiting) => number, rule: (name: FarStream, q: Waiting) => InFlightRule): void => {
      if (q === null && s[name] !== null) this.partial(name, 'what waited in its pipe or socket at the cut is unknown');
      s.startOrForget(name, q && { bytes: bytes(q), untilNs: q.fromNs, inFlight: rule(name, q) });
    };
    start('c2sServerRead', w.toServer, (q) => at.c2sWritten - q.bytes, read);
    start('s2cServerWrite', w.fromServer, (q) => at.s2cRead + q.bytes, write);
    start('c2sEditorWrite', w.fromEditor, (q) => at.c2sRead + q.bytes, write);
    start('s2cEditorRead', w.toEditor, (q) => at.s2cWritten - q.bytes, read);
    this.log.info?.('kernel timing on', { c2sOffset: at.c2sWritten, s2cOffset: at.s2cWritten, childrenAtStart: this.childrenAtStart });
    // Records that came before the counts: those that ended before the cut go on without
    // kernel fields, the rest through the stage.
    const held = this.beforeCut;
    this.beforeCut = [];
    for (const h of held) {
      const end = h.rec.offset + h.rec.headerBytes + h.rec.bytes;
      if (end <= (h.rec.dir === 'c2s' ? at.c2sWritten : at.s2cWritten)) h.next(h.rec);
      else this.stage.push(h.rec, h.next);
    }
  }

  /** The session ends before any cut (it was over before the probes watched): its records go on without kernel fields. */
  private passBeforeCut(): void {
    const held = this.beforeCut;
    this.beforeCut = [];
    for (const h of held) h.next(h.rec);
  }

  /**
   * A peer's read under way while its queue was read (it began before, returned after): had
   * it taken bytes by then? It had taken every one it returns if nothing waited and it
   * returned before lsptap could forward another byte; none if its thread was asleep in it
   * after (a read sleeps only while it has copied nothing: pipe_read, unix_stream_read_generic).
   * Otherwise nobody knows, and the stream is lost.
   */
  private inFlightRead(name: FarStream, waiting: number, asleep: Set<number>, asleepNs: number, endNs: number): (e: IoEvent) => InFlightCall {
    return (e) => {
      if (waiting === 0 && e.exitNs <= endNs) return 'before';
      if (e.exitNs > asleepNs && asleep.has(e.tid)) return 'after';
      this.partial(name, 'a read was under way as the cut was taken, and how much it had read by then is unknown');
      return null;
    };
  }

  /** A peer's write under way while its queue was read may have written part of its bytes: its stream is lost. */
  private inFlightWrite(name: FarStream): (e: IoEvent) => InFlightCall {
    return () => {
      this.partial(name, 'a write was under way as the cut was taken, and how much it had written by then is unknown');
      return null;
    };
  }

  /** One line for a stream whose offsets are unknown from the cut on: which fields go null, and why. */
  private partial(name: FarStream, reason: string): void {
    const { stream, dir, fields } = STREAM_FIELDS[name];
    const at = this.cutAt!;
    this.log.info?.('kernel timing partial', { stream, dir, offset: dir === 'c2s' ? at.c2sWritten : at.s2cWritten, nullFields: fields, reason });
  }

  /** Fill watched_fds, then watched_pids: a pid in watched_pids is what turns tracing on. */
  private watch(late: boolean): void {
    const fds = this.fds;
    const ioFds = this.probes.bpf.mapFd('watched_fds');
    const pids = watchedPids(this.probes.bpf);
    const watchFd = (pid: number, fd: number): void => {
      const k = Buffer.alloc(8);
      k.writeUInt32LE(pid, 0);
      k.writeInt32LE(fd, 4);
      watchStream(ioFds, k);
    };
    for (const fd of [fds.lsptapIn, fds.lsptapOut, fds.lsptapToServer, fds.lsptapFromServer]) watchFd(fds.lsptapPid, fd);
    watchFd(fds.serverPid, fds.serverIn ?? 0);
    watchFd(fds.serverPid, fds.serverOut ?? 1);
    if (fds.editorPid !== null && fds.editorIn !== null) watchFd(fds.editorPid, fds.editorIn);
    const writerPid = fds.editorWriterPid ?? null, writerFd = fds.editorOut ?? null;
    if (writerPid !== null && writerFd !== null) watchFd(writerPid, writerFd);
    pids.put(fds.lsptapPid, WatchedRole.lsptap);
    if (fds.editorPid !== null) pids.put(fds.editorPid, WatchedRole.editor);
    if (writerPid !== null && writerFd !== null) {
      pids.put(writerPid, WatchedRole.editor);
    }
    if (writerPid !== null && writerFd !== null && !late) {
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
    // The server's fds open now, so that its count starts right and closing one counts.
    // Before the server is watched: the kernel enters what it opens from then on.
    const table = this.probes.bpf.mapFd('server_fds');
    const none = Buffer.alloc(SERVER_FD.size); // opened_ns 0: open when watching began
    for (const fd of openFds(fds.serverPid)) {
      const k = Buffer.alloc(IO_FD_KEY.size);
      k.writeUInt32LE(fds.serverPid, IO_FD_KEY.fields.pid);
      k.writeInt32LE(fd, IO_FD_KEY.fields.fd);
      this.startFds++;
      // A daemon (--connect) with more fds than the table holds: counted as the kernel's
      // own misses are, in fdTableFull, instead of failing the session.
      if (this.startNotEntered > 0 || !mapTryPut(table, k, none)) this.startNotEntered++;
    }
    // Its descendants forked before (a server spawned while the probes loaded) are found in
    // /proc and get their CPU slots while nothing of the tree is counted yet; then the server,
    // and from then on its forks join the tree; a second look finds any forked in between (the
    // kernel gives those a slot when it first sees them run). One that exits between the /proc
    // read and its entry leaves a stale entry until its pid is reused.
    const early = descendantsOf(fds.serverPid).map((pid) => runningProcess(pid, ARGS_BYTES)).filter((p): p is RunningProcess => p !== null);
    claimChildSlots(this.probes.bpf, early);
    for (const p of early) pids.put(p.pid, WatchedRole.child);
    pids.put(fds.serverPid, WatchedRole.server);
    this.foundRunning.push(...early);
    const seen = new Set(early.map((p) => p.pid));
    for (const pid of descendantsOf(fds.serverPid)) {
      if (seen.has(pid)) continue;
      pids.put(pid, WatchedRole.child);
      const found = runningProcess(pid, ARGS_BYTES);
      if (found !== null) this.foundRunning.push(found);
    }
  }

  /** Two map reads (two FFI calls): at a metrics scrape or at the end, never per message. */
  private counts(): KernelCounts {
    const io = readCounters(this.probes.bpf.mapFd('io_counters'), IO_COUNTERS.length);
    const tree = readCounters(this.probes.bpf.mapFd('tree_counters'), TREE_COUNTERS.length);
    return { ioEvents: io[0], ioDrops: io[1] + io[2], treeEvents: tree[TreeCounter.events], treeDrops: tree[TreeCounter.drops], fdTableFull: tree[TreeCounter.fdTableFull] + this.startNotEntered };
  }

  /** The server's fd table and its peak, read once at the end (a map read per 256 fds). */
  private fdTable(): { table: ServerFd[]; peakDelta: number; tableSize: number } {
    const table: ServerFd[] = [];
    readHashMap(this.probes.bpf.mapFd('server_fds'), IO_FD_KEY.size, SERVER_FD.size, (k, ka, v, va) => table.push(decodeServerFd(k, ka, v, va)));
    const peakDelta = readCounters(this.probes.bpf.mapFd('tree_counters'), TREE_COUNTERS.length)[TreeCounter.fdPeak];
    return { table, peakDelta, tableSize: this.probes.bpf.mapMaxEntries('server_fds') };
  }

  /** Events the kernel dropped so far (ring buffers full), read from the counter maps. */
  kernelDrops(): number {
    if (this.stopped) return this.lastDrops; // the maps may be closed
    const c = this.counts();
    this.lastDrops = c.ioDrops + c.treeDrops;
    return this.lastDrops;
  }

  async stop(): Promise<Record<string, unknown>> {
    if (this.stopped) return {};
    this.stopped = true; // no timer from here on
    if (this.timer !== null) clearTimeout(this.timer);
    this.passBeforeCut();
    this.kernelStage.drain();
    await this.kernelStage.flush();
    const c = this.counts();
    const { table, peakDelta, tableSize } = this.fdTable();
    this.lastDrops = c.ioDrops + c.treeDrops;
    const profile = this.profile?.stop(this.log) ?? null;
    this.feed.close();
    this.probes.close();
    if (this.lastDrops > 0) this.log.warn('kernel timing lost events', { ioDrops: c.ioDrops, treeDrops: c.treeDrops, hint: 'the ring buffers filled faster than lsptap drained them; affected fields may be null or off' });
    if (c.fdTableFull > 0) this.log.warn('kernel fd table full', { serverPid: this.fds.serverPid, fdTableFull: c.fdTableFull, tableSize, hint: 'the server had more fds open than the kernel\'s table holds: those were not counted, so kernel.fds counts and fd growth are low and stillOpen misses them' });
    const fds: FdReport = this.kernelStage.tree.fdReport(table, peakDelta);
    if (fds.growth !== null) {
      this.log.warn('fd growth', {
        serverPid: this.fds.serverPid, fromCount: fds.growth.from, toCount: fds.growth.to, rises: fds.growth.rises,
        stillOpen: fds.stillOpen.length, hint: 'the server\'s open fd count rose across requests and did not come back: see kernel.fds.stillOpen in session end',
      });
    }
    return {
      kernel: {
        ...c, eventsRead: this.feed.eventsRead, drains: this.feed.drains,
        drainMs: Math.round(this.feed.drainNs / 1e4) / 100, strayEvents: this.kernelStage.strayEvents, fds,
        ...(profile !== null ? { profile } : this.profileOff !== null ? { profile: { off: this.profileOff } } : {}),
      },
      ...(this.profile?.filePath != null ? { profileFile: this.profile.filePath } : {}),
    };
  }
}

/** The server's open fds now, from /proc (none when it cannot be read). */
function openFds(pid: number): number[] {
  try { return fs.readdirSync(`/proc/${pid}/fd`).map(Number); } catch { return []; }
}

/** Start tracing this session's processes; the stage goes into the Session. */
export function startKernelTiming(probes: LoadedProbes, server: { serverPid: number; toServerFd: number; fromServerFd: number }, log: KernelLog, holdMs = DEFAULT_HOLD_MS, profileSink: ProfileSinkFactory | null = null, late = false): KernelSession {
  return new KernelSession(probes, {
    ...lsptapAndEditor(), serverPid: server.serverPid, lsptapToServer: server.toServerFd, lsptapFromServer: server.fromServerFd,
  }, log, holdMs, profileSink, late);
}

/** The same for `lsptap --connect`: the server is the process holding the socket's far end. */
export function startSocketKernelTiming(probes: LoadedProbes, peer: { fd: number | null; pid: number | null; peerFd: number | null }, log: KernelLog, holdMs = DEFAULT_HOLD_MS, profileSink: ProfileSinkFactory | null = null): KernelSession {
  if (peer.fd === null || peer.pid === null || peer.peerFd === null) throw new BpfLoadError('watch', 0, 'the process or fd at the server end of the socket was not found', 'run lsptap as root or as the server\'s user, with ss (iproute2) installed');
  return new KernelSession(probes, {
    ...lsptapAndEditor(), serverPid: peer.pid, lsptapToServer: peer.fd, lsptapFromServer: peer.fd, serverIn: peer.peerFd, serverOut: peer.peerFd,
  }, log, holdMs, profileSink);
}

/** lsptap's own stdio, the editor reading its stdout and the one writing its stdin. */
function lsptapAndEditor(): Pick<StreamFds, 'lsptapPid' | 'analysisTid' | 'editorPid' | 'lsptapIn' | 'lsptapOut' | 'editorIn' | 'editorWriterPid' | 'editorOut'> {
  const { reader: editor, writer } = findStdioPeers();
  return {
    // Sessions start on the analysis thread: this thread's syscalls are never the session's.
    lsptapPid: process.pid, analysisTid: currentThreadId(), editorPid: editor?.pid ?? null, lsptapIn: 0, lsptapOut: 1, editorIn: editor?.fd ?? null,
    editorWriterPid: writer?.pid ?? null, editorOut: writer?.fd ?? null,
  };
}
