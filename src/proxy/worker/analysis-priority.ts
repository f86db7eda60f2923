// The analysis thread's scheduling policy, set from the relay thread. SCHED_IDLE: the
// analysis runs only on a CPU nobody else wants, and any waking relay, editor or server
// thread preempts it at once (nice alone lets a running thread finish its slice first: the
// round-trip p99 and the throughput showed it). While the relay is held for it, back to
// normal (nice 10), so a saturated machine cannot stall the session. Set with chrt(1)
// (util-linux); without it, nice 10 alone.
//
// Each change is a process spawn, so none is made at start: a session goes idle only once
// it has lasted IDLE_AFTER_MS (a `gopls version` or a session that does nothing never
// spawns chrt; each spawn cost the start-up about 10 ms of the relay thread's time).

import { execFile } from 'node:child_process';
import fs from 'node:fs';

/** util-linux's chrt, by absolute path: PATH is the editor's, and may not have it. */
const CHRT = '/usr/bin/chrt';
/** How long a session runs at normal priority before the analysis thread goes idle. */
const IDLE_AFTER_MS = 1000;

type Policy = 'idle' | 'normal';

export class AnalysisPriority {
  private tid: number | null = null;
  /** The policy chrt last set; 'normal' is where a thread starts. */
  private policy: Policy = 'normal';
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /** The analysis thread is running as kernel thread tid: go idle after IDLE_AFTER_MS. */
  started(tid: number | null): void {
    this.tid = tid;
    this.later('idle');
  }

  /** The relays are held for the analysis (true), or read again (false). */
  holding(on: boolean): void {
    // Back to idle a second after the last hold, not after each: a 50 MB message holds many
    // times, and each change is a process spawn.
    if (on) this.set('normal');
    else this.later('idle');
  }

  /** Whatever is still to analyse must not wait for an idle CPU: the exit waits for it. */
  close(): void {
    this.closed = true;
    this.set('normal');
  }

  private later(policy: Policy): void {
    this.cancel();
    if (this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; this.set(policy); }, IDLE_AFTER_MS);
    this.timer.unref();
  }

  private cancel(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }

  private set(policy: Policy): void {
    this.cancel();
    if (this.tid === null || policy === this.policy || !fs.existsSync(CHRT)) return;
    this.policy = policy;
    execFile(CHRT, [policy === 'idle' ? '--idle' : '--other', '--pid', '0', String(this.tid)], { timeout: 5000 }, () => undefined);
  }
}
