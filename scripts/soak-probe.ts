// Preloaded into lsptap by `npm run soak` (node --require): once a second, appends lsptap's
// RSS and event-loop delay (since the last sample) as a JSON line to $LSPTAP_SOAK_SAMPLES.
// It writes nothing else and its timer does not keep lsptap alive.

import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.LSPTAP_SOAK_SAMPLES;
if (file !== undefined && file !== '') {
  const fd = fs.openSync(file, 'a', 0o600);
  // The histogram holds each 10 ms timer interval as it elapsed; the delay is what exceeds 10 ms.
  const resolutionMs = 10;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const t0 = Date.now();
  const over = (ns: number): number => Math.max(0, ns / 1e6 - resolutionMs);
  // LSPTAP_SOAK_GC=1 (with node --expose-gc): a full GC before each sample, so heapUsed
  // shows what is retained rather than what V8 has not collected yet.
  const gc = process.env.LSPTAP_SOAK_GC === '1' ? (globalThis as { gc?: () => void }).gc : undefined;
  const sample = (): void => {
    gc?.();
    const mem = process.memoryUsage();
    const line = {
      // --require loads this into the analysis thread too: each thread has its own heap and loop.
      thread: isMainThread ? 'relay' : 'analysis',
      tMs: Date.now() - t0, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external + mem.arrayBuffers,
      delayP50Ms: over(delay.percentile(50)), delayP99Ms: over(delay.percentile(99)), delayMaxMs: over(delay.max),
    };
    delay.reset();
    fs.writeSync(fd, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, 1000).unref();
  process.once('exit', sample);
}
