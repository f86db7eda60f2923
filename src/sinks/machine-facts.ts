// The machine a session ran on, for `session start`: what a reader of a report needs to
// judge its figures (kernel, cores, memory), and nothing that names the machine or its
// user (no hostname, no user name).

import os from 'node:os';

export interface MachineFacts {
  /** `Linux 6.1.0-18-amd64`. */
  os: string;
  arch: string;
  cpus: number;
  cpuModel: string | null;
  memoryMb: number;
}

let cached: MachineFacts | null = null;

/** Read once per process: they do not change while it runs. */
export function machineFacts(): MachineFacts {
  if (cached === null) {
    const cpus = os.cpus();
    cached = {
      os: `${os.type()} ${os.release()}`, arch: os.arch(), cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? null, memoryMb: Math.round(os.totalmem() / 2 ** 20),
    };
  }
  return cached;
}
