// A session's profiling: the clock events (ProfileSampler), the reads of the kernel's
// counts (ProfileReader), which request each sample belongs to (ProfileAttribution) and the
// digest each response carries (kernel.profile). The kernel stage calls it as records pass
// and as responses complete; its session calls refresh() in the idle drain and stop() last.

import type { MessageRecord } from '../model/record';
import { Symbolizer } from '../symbols';
import type { LoadedBpf } from './loader';
import { cxxDemangle } from './native';
import { ProfileSampler, type ProfileTarget } from './profile-sampler';
import { ProfileReader } from './profile-reader';
import { ProfileAttribution, type AttributedSample, type StreamOffsets } from './profile-attribution';
import type { ProfileSample } from '../model/profile-file';
import { StackNamer, digest, type ProfileDigest } from './profile-digest';

type WarnLog = { warn(msg: string, fields: Record<string, unknown>): void };

/** The idle drain's reads: between 0.5 and 5 s apart. */
const IDLE_READ_MIN_MS = 500;
const IDLE_READ_MAX_MS = 5000;

/**
 * How long the kernel's maps take to fill a quarter of the smaller's entries with every
 * CPU sampling the server (a new entry per tick at worst), within the bounds above: 5 s on
 * 2 CPUs at 99 Hz, 0.5 s from 21 CPUs on.
 */
export function idleReadInterval(entries: number, cpus: number, hz: number): number {
  const fillMs = (1000 * entries) / 4 / Math.max(1, cpus * hz);
  return Math.max(IDLE_READ_MIN_MS, Math.min(IDLE_READ_MAX_MS, fillMs));
}

/**
 * Where attributed samples go besides the response lines: the session's profile file
 * (sinks/profile-writer.ts's ProfileWriter), a batch per read of the kernel's counts.
 */
export interface ProfileSampleSink {
  readonly path: string | null;
  add(samples: readonly ProfileSample[]): void;
  close(): { path: string | null; samples: number; cutSamples: number; bytes: number };
}

export class ProfileStage {
  private readonly reader: ProfileReader;
  private readonly attribution: ProfileAttribution;
  private readonly namer: StackNamer;
  private readonly symbolizer = new Symbolizer({ demangle: cxxDemangle });
  /** Samples attributed since the last write to the sink. */
  private batch: AttributedSample[] = [];
  /** Counts were read since the last pump began: a response's samples are all in. */
  private fresh = false;
  private stopped = false;
  /** The idle drain reads the counts at most this often (refreshIdle). */
  private readonly idleReadMs: number;
  private lastReadMs = 0;

  constructor(private readonly bpf: LoadedBpf, private readonly sampler: ProfileSampler, readonly target: ProfileTarget, private readonly sink: ProfileSampleSink | null) {
    this.reader = new ProfileReader(bpf);
    this.attribution = new ProfileAttribution(target.serverPid, sink === null ? null : (s) => this.batch.push(s));
    this.namer = new StackNamer(target.serverPid, this.reader.stacks, this.symbolizer);
    this.idleReadMs = idleReadInterval(Math.min(bpf.mapMaxEntries('profile_counts'), bpf.mapMaxEntries('profile_stacks')), sampler.cpus, sampler.hz);
  }

  /** Start sampling the session's server; throws BpfLoadError naming the step. */
  static start(bpf: LoadedBpf, target: ProfileTarget, hz: number, sink: ProfileSampleSink | null): ProfileStage {
    return new ProfileStage(bpf, ProfileSampler.start(bpf, target, hz), target, sink);
  }

  /** Where the kernel's counts of the server's input and output stand in the session's streams. */
  useStreamOffsets(offsets: StreamOffsets): void { this.attribution.offsets = offsets; }

  /** A record the stage received: requests open windows, the server's output closes them. */
  onRecord(rec: MessageRecord): void {
    const end = rec.offset + rec.headerBytes + rec.bytes;
    if (rec.dir === 'c2s') {
      if (rec.kind === 'request') this.attribution.request(rec.offset, end, rec.method, rec.id);
      else this.attribution.input(end);
      return;
    }
    this.attribution.output(rec.offset, end, rec.kind === 'response' && rec.request !== null ? rec.request.offset : null);
  }

  /** A pump begins: counts are read again before the first response it completes. */
  stale(): void { this.fresh = false; }

  /**
   * The idle drain's read: only once idleReadMs have passed since the last read. A read
   * walks every bucket of the kernel's maps whatever they hold (1-3 ms of CPU here), and
   * responses read what they need themselves (profileOf).
   */
  refreshIdle(): void {
    if (performance.now() - this.lastReadMs >= this.idleReadMs) this.refresh();
  }

  /** Read the kernel's counts (a few FFI calls) and attribute what can be. */
  refresh(): void {
    if (this.stopped) return;
    this.lastReadMs = performance.now();
    const counts = this.reader.take();
    if (this.reader.fresh.length > 0) this.namer.sampled(this.reader.fresh);
    this.attribution.add(counts);
    this.fresh = true;
    this.write();
  }

  /** Hand what was attributed to the sink, frames named (one write per batch). */
  private write(): void {
    if (this.sink === null || this.batch.length === 0) return;
    const out: ProfileSample[] = this.batch.map((s) => ({ kind: s.kind, ...(s.cause === null ? {} : { cause: s.cause }), method: s.method, id: s.id, count: s.count, valueNs: s.ns, stack: this.namer.profileFrames(s.userStack, s.kernelStack) }));
    this.batch = [];
    this.sink.add(out);
  }

  /** The profile of a completed response's request; null for anything else. */
  profileOf(rec: MessageRecord): ProfileDigest | null {
    if (rec.dir !== 's2c' || rec.kind !== 'response' || rec.request === null) return null;
    if (!this.fresh) this.refresh();
    const p = this.attribution.finish(rec.request.offset);
    this.write(); // finish attributes what waited for this answer
    return p === null ? null : digest(p, this.namer);
  }

  /** The profile file's path, for `session end`'s profileFile; null without one. */
  get filePath(): string | null { return this.sink?.path ?? null; }

  /** Stop sampling, read the last counts; what `session end` gets (kernel.profile), warning once about losses. */
  stop(log: WarnLog): Record<string, unknown> {
    if (this.stopped) return {};
    this.sampler.close();
    this.refresh();
    this.stopped = true;
    this.reader.close();
    this.attribution.flush();
    this.write();
    const lost = this.reader.losses();
    const file = this.sink?.close() ?? null;
    if (lost.countsFull + lost.stacksFull > 0) {
      log.warn('profile samples lost', { countsFull: lost.countsFull, stacksFull: lost.stacksFull, lostWaitMs: Math.round(lost.lostWaitNs / 1e5) / 10, hint: 'the kernel\'s profile maps filled between two reads: those samples (or their stacks) are missing from the profiles' });
    }
    const a = this.attribution;
    return {
      hz: this.sampler.hz, cpus: this.sampler.cpus, samples: a.serverTicks, childSamples: a.childTicks, waits: lost.waits,
      severalInFlight: a.severalInFlight, lostSamples: lost.countsFull, lostStacks: lost.stacksFull,
      background: digest(a.background, this.namer), stacks: this.reader.stacks.size,
      reads: this.reader.reads, readMs: Math.round(Number(this.reader.readNs) / 1e4) / 100, symbolBytes: this.symbolizer.heldBytes,
      ...(file !== null ? { fileSamples: file.samples, fileBytes: file.bytes, fileCutSamples: file.cutSamples } : {}),
    };
  }
}
