// One session's end of the analysis link, as the relay session uses it: its chunks, its
// stream ends, its log lines and its questions, all tagged with the session's number.

import type { ControlRecord, FinishReply, LogLevel, SessionEndRequest, SessionState } from '../../bridge/protocol';
import type { StreamCut } from '../../model/stages';
import type { Direction } from '../../model/frame';

/** Log lines written from the relay thread (lifecycle events), in order with the bytes. */
export interface LineLog {
  info(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
  error(msg: string, fields: Record<string, unknown>): void;
}

/** What a channel needs of the link. */
export interface ChannelPort {
  /** offset: the stream offset of the chunk's first byte, in its session and direction. */
  pushChunk(sid: number, dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint, offset: number): void;
  control(sid: number, c: ControlRecord): void;
  request<T>(sid: number, make: (req: number) => ControlRecord, fallback: T): Promise<T>;
}

export function lineLogOf(port: ChannelPort, sid: number): LineLog {
  const line = (level: LogLevel) => (msg: string, fields: Record<string, unknown>): void => port.control(sid, { t: 'line', level, msg, fields });
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

export class SessionChannel {
  readonly log: LineLog;
  constructor(private readonly port: ChannelPort, readonly sid: number) {
    this.log = lineLogOf(port, sid);
  }

  /** Bytes observed so far per direction: the next chunk's stream offset. */
  private c2sBytes = 0;
  private s2cBytes = 0;

  readonly observe = (dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint): void => {
    if (dir === 'c2s') {
      this.port.pushChunk(this.sid, dir, chunk, readNs, forwardedNs, this.c2sBytes);
      this.c2sBytes += chunk.length;
    } else {
      this.port.pushChunk(this.sid, dir, chunk, readNs, forwardedNs, this.s2cBytes);
      this.s2cBytes += chunk.length;
    }
  };

  /** EOF on dir. */
  end(dir: Direction): void { this.port.control(this.sid, { t: 'end', dir }); }

  observerFailed(err: unknown): void { this.port.control(this.sid, { t: 'observer-failed', err: String(err instanceof Error ? err.stack : err) }); }

  state(): Promise<SessionState> {
    return this.port.request<SessionState>(this.sid, (req) => ({ t: 'state', req }), { exitSent: false, s2cCut: false, s2cOffset: 0 });
  }

  /** Hand over the streams' counts (both directions held); resolves once kernel timing watches from them. */
  cut(at: StreamCut): Promise<void> {
    return this.port.request<unknown>(this.sid, (req) => ({ t: 'cut', req, cut: at }), {}).then(() => undefined);
  }

  /** Flush held records, write `session end`; with tables, also return the summary tables. */
  finish(end: SessionEndRequest, tables: boolean): Promise<FinishReply> {
    return this.port.request<FinishReply>(this.sid, (req) => ({ t: 'finish', req, end, tables }), { summaryTable: null, kernelTable: null });
  }
}
