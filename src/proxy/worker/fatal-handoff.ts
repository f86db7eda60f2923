// The synchronous exit path (an uncaught exception on the relay thread): the last record
// goes into the ring and this thread blocks until the analysis thread has written it all.

import { ChunkRingWriter, RecordType } from '../../bridge/chunk-ring';
import type { ControlRecord } from '../../bridge/protocol';

const NO_TIME = 0n;
/** How long the exit waits for the log. */
const FATAL_WAIT_MS = 2000;

/** Hand over `err` and wait (at most 2 s); false when the ring had no room for it. */
export function handOverFatal(writer: ChunkRingWriter, err: string): boolean {
  const record = Buffer.from(JSON.stringify({ t: 'fatal', err } satisfies ControlRecord));
  if (!writer.tryWrite(RecordType.Control, 0, 0, record, NO_TIME, NO_TIME)) return false;
  writer.wake();
  writer.waitFatalDone(FATAL_WAIT_MS);
  return true;
}
