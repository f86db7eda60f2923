// One method's counts in one direction, and the values its answered requests produced:
// the live summary keeps them in t-digests, the report in exact arrays, `lsptap top` in
// both shapes; the counting rules are written once here.

import type { Direction } from '../model/frame';
import type { KernelTiming } from '../model/record';

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

  /** A response to this method's request arrived after `latencyMs`. */
  answer(latencyMs: number, isError: boolean, cancelled: boolean, kernel: KernelTiming | null): void {
    this.answered++;
    if (isError) this.errors++;
    if (cancelled) this.cancelled++;
    this.latencies.push(latencyMs);
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
    if (kernel === null) return;
    for (const [part, v] of Object.entries(kernel)) {
      if (typeof v !== 'number') continue;
      this.kernel ??= new Map();
      let sink = this.kernel.get(part);
      if (sink === undefined) { sink = this.makeSink(); this.kernel.set(part, sink); }
      sink.push(v);
    }
  }
}
