// Issue 14's ring figures for a kernel-timed session: how many records the kernel sent up
// through the ring buffers per second of the session, and how many it dropped (a full
// ring), read from the `session end` line lsptap logged (kernel.ioEvents, treeEvents,
// ioDrops, treeDrops).

import fs from 'node:fs';

interface SessionEndKernel { ioEvents?: number; treeEvents?: number; ioDrops?: number; treeDrops?: number }

/** ringEventsPerS and ringDrops of the session logged at logPath; {} when it has no kernel counts. */
export function ringFigures(logPath: string, wallMs: number): { ringEventsPerS?: number; ringDrops?: number } {
  let text: string;
  try { text = fs.readFileSync(logPath, 'utf8'); } catch { return {}; }
  const line = text.split('\n').reverse().find((l) => l.includes('"msg":"session end"'));
  if (line === undefined) return {};
  const k = (JSON.parse(line) as { kernel?: SessionEndKernel }).kernel;
  if (k?.ioEvents === undefined || k.treeEvents === undefined) return {};
  return { ringEventsPerS: (k.ioEvents + k.treeEvents) / (wallMs / 1e3), ringDrops: (k.ioDrops ?? 0) + (k.treeDrops ?? 0) };
}
