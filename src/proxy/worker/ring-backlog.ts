// Backlog and flow control between the relay thread and the shared ring. A record that does
// not fit in the ring (the analysis thread is behind) waits here, in order; past
// BACKLOG_HOLD_BYTES the relays are told to stop reading (as for a slow peer) until the
// backlog is empty again, so memory stays bounded and no message goes unlogged.

import { ChunkRingWriter, RecordType } from '../../bridge/chunk-ring';

/**
 * Held-back bytes above which the relays stop reading, and below which they read again:
 * far below a large message (50 MB), so none is ever held whole; 8 MiB rather than 1 let a
 * 50 MB message through 1.41 -> 1.14 x the plain relay's time (bench, 5 repeats).
 */
export const BACKLOG_HOLD_BYTES = 8 << 20;
export const BACKLOG_RESUME_BYTES = 0;

const NO_TIME = 0n;

interface Held { type: RecordType; dir: number; sid: number; payload: Uint8Array; readNs: bigint; forwardedNs: bigint; gapBytes?: number }

export class RingBacklog {
  private backlog: (Held | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  private holding = false;
  private readonly holdListeners = new Set<(hold: boolean) => void>();
  private readonly gapAt = Buffer.alloc(8);

  /** onHoldChange: the relays stop (true) or may read again (false); for the scheduling policy. */
  constructor(private readonly writer: ChunkRingWriter, private readonly onHoldChange: (hold: boolean) => void) {}

  /** Nothing waits outside the ring. */
  get empty(): boolean { return this.head === this.backlog.length; }

  /**
   * The relay's hot path: one call per forwarded chunk, whose first byte sits at stream offset
   * `offset` of its session and direction. A chunk inside the middle of a large body the
   * analysis thread skims goes as its length only (chunk-ring.ts, "Skipping").
   */
  pushChunk(sid: number, dir: number, chunk: Buffer, readNs: bigint, forwardedNs: bigint, offset: number): void {
    if (this.writer.maySkip(dir, sid, offset, chunk.length)) {
      // The payload is the chunk's offset, so the analysis thread can check where it falls.
      this.gapAt.writeDoubleLE(offset, 0);
      if (this.empty && this.writer.tryWrite(RecordType.Gap, dir, sid, this.gapAt, readNs, forwardedNs, chunk.length)) {
        this.writer.wake();
        return;
      }
      this.hold({ type: RecordType.Gap, dir, sid, payload: Buffer.from(this.gapAt), readNs, forwardedNs, gapBytes: chunk.length });
      this.flush();
      return;
    }
    if (this.empty && chunk.length <= this.writer.maxPayload
      && this.writer.tryWrite(RecordType.Chunk, dir, sid, chunk, readNs, forwardedNs)) {
      this.writer.wake();
      return;
    }
    const max = this.writer.maxPayload;
    for (let at = 0; at < chunk.length; at += max) this.hold({ type: RecordType.Chunk, dir, sid, payload: chunk.subarray(at, at + max), readNs, forwardedNs });
    this.flush();
  }

  pushControl(sid: number, payload: Buffer): void {
    this.hold({ type: RecordType.Control, dir: 0, sid, payload, readNs: NO_TIME, forwardedNs: NO_TIME });
    this.flush();
  }

  /** Called when the relays must stop reading (true) or may read again (false). */
  onHold(cb: (hold: boolean) => void): () => void {
    this.holdListeners.add(cb);
    if (this.holding) cb(true);
    return () => { this.holdListeners.delete(cb); };
  }

  /** Move held records into the ring, in order, as far as they fit. */
  flush(): void {
    for (let pass = 0; pass < 2; pass++) {
      while (this.head < this.backlog.length) {
        const h = this.backlog[this.head]!;
        if (!this.writer.tryWrite(h.type, h.dir, h.sid, h.payload, h.readNs, h.forwardedNs, h.gapBytes)) break;
        this.bytes -= h.payload.length;
        this.backlog[this.head++] = undefined;
      }
      if (this.empty) {
        this.backlog = [];
        this.head = 0;
        this.writer.producerWaiting = false;
        break;
      }
      // Ask for a `space` message, then look once more: room may have appeared meanwhile.
      this.writer.producerWaiting = true;
    }
    if (this.head > 4096 && this.head * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.head);
      this.head = 0;
    }
    this.writer.wake();
    if (!this.holding && this.bytes > BACKLOG_HOLD_BYTES) this.setHolding(true);
    else if (this.holding && this.bytes <= BACKLOG_RESUME_BYTES) this.setHolding(false);
  }

  /** The analysis thread is gone: drop what waits and let the relays read. */
  drop(): void {
    this.backlog = [];
    this.head = 0;
    this.bytes = 0;
    if (this.holding) this.setHolding(false);
  }

  private hold(h: Held): void {
    this.backlog.push(h);
    this.bytes += h.payload.length;
  }

  private setHolding(on: boolean): void {
    this.holding = on;
    this.onHoldChange(on);
    for (const cb of this.holdListeners) cb(on);
  }
}
