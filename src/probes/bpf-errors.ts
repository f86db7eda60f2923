// A failed step of loading BPF, with its errno and the fix, and the capability advice: apart
// from the loader so that the relay thread can say the same sentence (bpf-capability.ts)
// without loading libbpf's bindings.

import os from 'node:os';
import path from 'node:path';

const LSPTAP_BIN = path.join(__dirname, '..', '..', '..', 'bin', 'lsptap');
export const CAPABILITY_ADVICE = `run lsptap as root, or give a copy of node the capabilities: cp "$(command -v node)" ~/node-bpf && sudo setcap cap_bpf,cap_perfmon+ep ~/node-bpf, then start lsptap as ~/node-bpf ${LSPTAP_BIN} [options] -- COMMAND`;

export class BpfLoadError extends Error {
  constructor(readonly step: string, readonly errno: number, readonly reason: string, readonly fix: string) {
    super(`${step} failed${errno !== 0 ? ` (${errnoName(errno)})` : ''}: ${reason}; ${fix}`);
  }
}

function errnoName(errno: number): string {
  for (const [name, v] of Object.entries(os.constants.errno)) if (v === errno) return `${name}, errno ${errno}`;
  return `errno ${errno}`;
}

