// The ports records flow through after pairing: an optional stage that may hold a record to
// attach data to it (kernel timing), then the sinks (log, summary, metrics). Defined here,
// below both the analysis thread that composes them and the folders that implement them.

import type { Direction } from './frame';
import type { MessageRecord } from './record';

/**
 * A stage between pairing and the sinks that may attach data to a record (kernel timing)
 * and pass it on later; flush() passes on everything held.
 */
export interface RecordStage {
  push(rec: MessageRecord, next: (rec: MessageRecord) => void): void;
  flush(): Promise<void>;
}

/** Anything that wants every finished record (summary, metrics). */
export interface RecordSink {
  add(rec: MessageRecord): void;
  /** A `bad input` warning in direction dir (metrics count them). */
  badInput?(dir: Direction): void;
}

/** `--bpf MODE`: kernel timing where it loads (auto), never (off), or refuse to start without it (require). */
export type BpfMode = 'off' | 'auto' | 'require';
