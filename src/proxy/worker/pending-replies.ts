// The request/reply half of the thread protocol: each request the relay thread sends
// carries a number, and the analysis thread's `reply` message resolves it. When the
// analysis thread is gone every open and later request resolves with its fallback, so the
// relay never waits on a thread that will not answer.

export class PendingReplies {
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; fallback: unknown }>();
  private failed = false;

  /** A new request number, and the promise its reply resolves. */
  open<T>(fallback: T): { req: number; reply: Promise<T> } | null {
    if (this.failed) return null;
    const req = this.nextReq++;
    const reply = new Promise<T>((resolve) => { this.pending.set(req, { resolve: resolve as (v: unknown) => void, fallback }); });
    return { req, reply };
  }

  answer(req: number, value: unknown): void {
    const p = this.pending.get(req);
    this.pending.delete(req);
    p?.resolve(value);
  }

  /** No reply will come: resolve everything open with its fallback. */
  failAll(): void {
    this.failed = true;
    for (const [req, p] of this.pending) { this.pending.delete(req); p.resolve(p.fallback); }
  }
}
