// The only code that touches forwarded bytes. Each chunk is written on the moment it is
// read, then the same Buffer is shown to the observer (the framer), which never keeps or
// changes it. Backpressure: when the writer's buffer is full the reader pauses, so a slow
// peer holds lsptap's memory to one high-water mark, as a direct pipe would.

import type { Readable, Writable } from 'node:stream';

export type ChunkObserver = (chunk: Buffer, readNs: bigint, forwardedNs: bigint) => void;

export interface RelayHooks {
  /** The source ended (EOF) or failed; no more chunks will come. */
  onSourceEnd: (error: Error | null) => void;
  /** Writing to the destination failed (peer gone). Further chunks are dropped. */
  onDestinationError: (error: Error) => void;
  /** The observer threw: it has been switched off and the relay goes on plainly. */
  onObserverError: (error: unknown) => void;
}

export class DirectionRelay {
  private observer: ChunkObserver | null;
  private destinationBroken = false;
  private ended = false;
  private writerFull = false;
  /** Reasons to stop reading besides a full writer (the analysis is behind, or not ready yet). */
  private holds = 0;
  /** Bytes forwarded so far. */
  bytes = 0;

  constructor(private readonly src: Readable, private readonly dst: Writable, observer: ChunkObserver, private readonly hooks: RelayHooks) {
    this.observer = observer;
    src.on('data', this.onData);
    src.once('end', () => this.finish(null));
    src.once('error', (err: Error) => this.finish(err));
    src.once('close', () => this.finish(null));
    dst.on('error', (err: Error) => {
      if (this.destinationBroken) return;
      this.destinationBroken = true;
      this.src.resume(); // keep draining the source so its writer never blocks on us
      this.hooks.onDestinationError(err);
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    const readNs = process.hrtime.bigint();
    this.bytes += chunk.length;
    if (!this.destinationBroken && !this.dst.write(chunk)) {
      this.writerFull = true;
      this.src.pause();
      this.dst.once('drain', this.resume);
    }
    const observer = this.observer;
    if (observer === null) return;
    try {
      observer(chunk, readNs, process.hrtime.bigint());
    } catch (err) {
      this.observer = null;
      this.hooks.onObserverError(err);
    }
  };

  private readonly resume = (): void => {
    this.writerFull = false;
    if (this.holds === 0) this.src.resume();
  };

  /** The source has ended (EOF, error or close): every byte it had was read. */
  get sourceEnded(): boolean { return this.ended; }

  /** Not reading because of us or the destination (a full writer, a hold), not for want of bytes. */
  get blocked(): boolean { return this.writerFull || this.holds > 0; }

  /** Stop reading for a reason (on), and read again once every reason is gone (off). */
  hold(on: boolean): void {
    this.holds += on ? 1 : -1;
    if (on) this.src.pause();
    else if (this.holds === 0 && !this.writerFull) this.src.resume();
  }

  private finish(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.dst.removeListener('drain', this.resume);
    this.hooks.onSourceEnd(err);
  }
}
