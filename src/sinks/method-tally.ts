// One method's counts in one direction, and the values its answered requests produced:
// the live summary keeps them in t-digests, the report and `lsptap top` in exact value
// columns; the counting rules are written once here.

import type { Direction } from '../model/frame';
import { ValueColumn } from './value-column';

/** Where latencies (ms) or kernel parts (µs) go: a t-digest, or a plain array. */
export interface ValueSink { push(value: number): unknown }

export class MethodTally<S extends ValueSink> {
  count = 0;
  answered = 0;
  errors = 0;
  cancelled = 0;
  maxMs = 0;
  readonly latencies: S;
  /** Per kernel part; null until a response carries kernel timing. */
  kernel: Map<string, S> | null = null;

  /** `kind` only rises from notification to request (a report may see a response first). */
  constructor(readonly dir: Direction, readonly method: string, public kind: 'request' | 'notification', private readonly makeSink: () => S) {
    this.latencies = makeSink();
  }

  /**
   * A response to this method's request arrived after `latencyMs`. `kernel` is a record's
   * KernelTiming or a log line's `kernel` object as parsed: its finite numbers are kept,
   * anything else (null, lists, text) is not a part.
   */
  answer(latencyMs: number, isError: boolean, cancelled: boolean, kernel: object | null): void {
    this.answered++;
    if (isError) this.errors++;
    if (cancelled) this.cancelled++;
    this.latencies.push(latencyMs);
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
    if (kernel === null) return;
    // for-in, not Object.entries: no array per response over a month of logs.
    for (const part in kernel) {
      const v = (kernel as Record<string, unknown>)[part];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      this.kernel ??= new Map();
      let sink = this.kernel.get(part);
      if (sink === undefined) { sink = this.makeSink(); this.kernel.set(part, sink); }
      sink.push(v);
    }
  }
}

/** Exact tallies keyed by direction and method, made on first use (the report, `lsptap top`). */
export class ExactTallies {
  private readonly byKey = new Map<string, MethodTally<ValueColumn>>();

  /** The tally of `method` in direction `dir`; a request seen after its response raises `kind`. */
  of(dir: Direction, method: string, kind: 'request' | 'notification'): MethodTally<ValueColumn> {
    const key = `${dir} ${method}`;
    let t = this.byKey.get(key);
    if (t === undefined) { t = new MethodTally<ValueColumn>(dir, method, kind, () => new ValueColumn()); this.byKey.set(key, t); }
    else if (kind === 'request') t.kind = 'request';
    return t;
  }

  values(): IterableIterator<MethodTally<ValueColumn>> { return this.byKey.values(); }
}
