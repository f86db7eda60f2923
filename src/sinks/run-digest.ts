// A t-digest fed runs of equal values as one weighted push. With kernel timing a response
// carries some 23 parts, and most of them repeat from one response to the next (a server
// that reads no file and forks no child gives 0 for the 14 disk, child, fd and blocked
// parts, response after response); each push into `tdigest` searches its tree and allocates
// a few objects, about 0.5 µs, so a run now costs one push. A value equal to a centroid's
// mean only adds weight to it, so the digest ends as it would have value by value but for
// when its cached cumulative counts are refreshed (tdigest's CX).

import { TDigest } from 'tdigest';

export class RunDigest {
  private readonly digest = new TDigest();
  private runValue = 0;
  private runCount = 0;

  push(value: number): void {
    if (this.runCount > 0 && value === this.runValue) { this.runCount++; return; }
    this.flush();
    this.runValue = value;
    this.runCount = 1;
  }

  /** The digest with every value pushed so far in it. */
  flushed(): TDigest {
    this.flush();
    return this.digest;
  }

  private flush(): void {
    if (this.runCount === 0) return;
    this.digest.push(this.runValue, this.runCount);
    this.runCount = 0;
  }
}
