// Whether this process may load BPF at all, read from /proc/self/status: the relay thread
// asks before it spawns a server under --bpf=require, so that a user without the
// capabilities is refused before anything starts. The probes themselves load beside the
// server on the analysis thread (~0.7 s), and a later failure there ends the session.

import fs from 'node:fs';
import os from 'node:os';
import { BpfLoadError, CAPABILITY_ADVICE } from './bpf-errors';

const CAP_SYS_ADMIN = 21n, CAP_PERFMON = 38n, CAP_BPF = 39n;

/** The error loading would end with for want of capabilities, or null (they are there, or unknown). */
export function missingBpfCapability(status: () => string = () => fs.readFileSync('/proc/self/status', 'latin1')): BpfLoadError | null {
  let text: string;
  try { text = status(); } catch { return null; }
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
  if (m === null) return null;
  const eff = BigInt(`0x${m[1]}`);
  const has = (cap: bigint): boolean => (eff >> cap & 1n) === 1n;
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return null;
  return new BpfLoadError('load', os.constants.errno.EPERM, 'this process has neither CAP_BPF with CAP_PERFMON nor CAP_SYS_ADMIN', CAPABILITY_ADVICE);
}
