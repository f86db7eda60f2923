// TypeScript mirror of bpf/profile.h: the profiler's map keys and values. Checked against
// the object's BTF by test/event-layout.test.ts, as event-layout.ts is.

import type { StructLayout } from './event-layout';
import { WAIT_CAUSES, type WaitCause } from '../model/profile-file';

/** Frames per stack (PROFILE_STACK_DEPTH). */
export const PROFILE_STACK_DEPTH = 127;

export const PROFILE_KEY: StructLayout = {
  name: 'profile_key', size: 40,
  fields: { tgid: 0, kind: 4, cause: 6, user_stack: 8, kernel_stack: 16, read_bytes: 24, written_bytes: 32 },
};
export const PROFILE_VALUE: StructLayout = { name: 'profile_value', size: 16, fields: { count: 0, ns: 8 } };
export const PROFILE_STACK: StructLayout = { name: 'profile_stack', size: 8 * PROFILE_STACK_DEPTH, fields: { ips: 0 } };
export const PROFILE_CONFIG: StructLayout = { name: 'profile_config', size: 16, fields: { server_pid: 0, in_fd: 4, out_fd: 8, period_ns: 12 } };

/** enum profile_kind, by value. */
export const PROFILE_KINDS = ['cpu', 'wait'] as const;
export type ProfileKind = typeof PROFILE_KINDS[number];

/** enum profile_counter slots. */
export const PROFILE_COUNTERS = ['samples', 'countsFull', 'stacksFull', 'waits', 'lostWaitNs'] as const;
export const ProfileCounter = { samples: 0, countsFull: 1, stacksFull: 2, waits: 3, lostWaitNs: 4 } as const;

/** One entry of profile_counts: ticks (cpu) or sleeps and blocked time (wait) of one stack pair at one window key. */
export interface ProfileCount {
  tgid: number;
  kind: ProfileKind;
  /** Wait counts: what the blocked time was spent on (enum profile_wait_cause); null for cpu. */
  cause: WaitCause | null;
  /** Keys of profile_stacks (hashes of the frames); 0n: none. */
  userStack: bigint;
  kernelStack: bigint;
  /** The server's input bytes read and output bytes written at the sample: the window key. */
  readBytes: number;
  writtenBytes: number;
  count: number;
  ns: number;
}

export function decodeProfileCount(k: Buffer, ka: number, v: Buffer, va: number): ProfileCount {
  const F = PROFILE_KEY.fields, V = PROFILE_VALUE.fields;
  return {
    tgid: k.readUInt32LE(ka + F.tgid),
    kind: PROFILE_KINDS[k.readUInt16LE(ka + F.kind)] ?? 'cpu',
    cause: WAIT_CAUSES[k.readUInt16LE(ka + F.cause) - 1] ?? null,
    userStack: k.readBigUInt64LE(ka + F.user_stack),
    kernelStack: k.readBigUInt64LE(ka + F.kernel_stack),
    readBytes: Number(k.readBigUInt64LE(ka + F.read_bytes)),
    writtenBytes: Number(k.readBigUInt64LE(ka + F.written_bytes)),
    count: Number(v.readBigUInt64LE(va + V.count)),
    ns: Number(v.readBigUInt64LE(va + V.ns)),
  };
}

/** A profile_stacks value: the return addresses up to the first zero, leaf first. */
export function decodeStack(v: Buffer, va: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < PROFILE_STACK_DEPTH; i++) {
    const ip = v.readBigUInt64LE(va + 8 * i);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}
