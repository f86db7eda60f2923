// The profiler's clock: a CPU-clock perf event on every online CPU, each linked to
// handle_profile_sample (bpf/profile.bpf.c) with BPF_LINK_CREATE, as bcc's profile does with
// libbpf's bpf_program__attach_perf_event. The program is loaded with the rest of the object
// (the light skeleton loads every program); only these links make it run, so profiling is
// switched on and off here without another object or loader.
//
// perf_event_open and bpf(2) go through libc's syscall(), their structs laid out by hand
// (UAPI linux/perf_event.h and linux/bpf.h, stable by rule).

import fs from 'node:fs';
import os from 'node:os';
import { allocate, libcCalls, NR_BPF, type NativeBlock } from './native';
import { BpfLoadError, CAPABILITY_ADVICE, mapPutBytes, type LoadedBpf } from './loader';
import { PROFILE_CONFIG } from './profile-layout';

const NR_PERF_EVENT_OPEN = process.arch === 'arm64' ? 241 : 298;
const BPF_LINK_CREATE = 28;
const BPF_PERF_EVENT = 41;
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;
/** PERF_ATTR_SIZE_VER7: every field lsptap sets is in the first 48 bytes. */
const PERF_ATTR_SIZE = 128;
const PERF_FLAG_FD_CLOEXEC = 8;
/** The BPF program that counts samples. */
export const SAMPLE_PROGRAM = 'handle_profile_sample';
/** The one that takes the stacks of server threads going to sleep in a syscall. */
export const SWITCH_PROGRAM = 'handle_profile_switch';

/** The CPUs online now, from /sys (os.cpus() may list offline ones on some kernels). */
export function onlineCpus(): number[] {
  try {
    const out: number[] = [];
    for (const part of fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let c = a; c <= (b ?? a); c++) out.push(c);
    }
    if (out.length > 0) return out;
  } catch { /* fall through */ }
  return os.cpus().map((_, i) => i);
}

/** Where the profiler finds the server: its process and stream fds, and the clock's period. */
export interface ProfileTarget { serverPid: number; inFd: number; outFd: number }

export class ProfileSampler {
  private fds: number[] = [];

  private constructor(readonly hz: number, readonly periodNs: number, readonly cpus: number) {}

  /**
   * Write the target into profile_config, then open a clock event per CPU at hz and link
   * the sampling program to each. Throws BpfLoadError naming the step, having closed what it made.
   */
  static start(bpf: LoadedBpf, target: ProfileTarget, hz: number): ProfileSampler {
    if (!Number.isInteger(hz) || hz <= 0) throw new RangeError(`profile rate must be a positive integer, got ${hz}`);
    const periodNs = Math.round(1e9 / hz);
    writeConfig(bpf, target, periodNs);
    const cpus = onlineCpus();
    const s = new ProfileSampler(hz, periodNs, cpus.length);
    const libc = libcCalls();
    const blocks: NativeBlock[] = [];
    try {
      const prog = bpf.progFd(SAMPLE_PROGRAM);
      const attr = allocate(PERF_ATTR_SIZE);
      blocks.push(attr);
      attr.buf.fill(0);
      attr.buf.writeUInt32LE(PERF_TYPE_SOFTWARE, 0);
      attr.buf.writeUInt32LE(PERF_ATTR_SIZE, 4);
      attr.buf.writeBigUInt64LE(BigInt(PERF_COUNT_SW_CPU_CLOCK), 8);
      attr.buf.writeBigUInt64LE(BigInt(periodNs), 16); // sample_period (freq bit clear): ns of CPU clock
      const link = allocate(32);
      blocks.push(link);
      for (const cpu of cpus) {
        // pid -1, this cpu: every task that runs there (the program picks the server's tree).
        const r = libc.perfEventOpen(NR_PERF_EVENT_OPEN, attr.ptr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        const pfd = Number(r.value);
        if (pfd < 0) throw stepError(`perf_event_open (CPU ${cpu})`, r.errnoCode, 'the kernel refused a CPU-clock event: perf_event_paranoid, or no perf events in this kernel (CONFIG_PERF_EVENTS)');
        s.fds.push(pfd);
        link.buf.fill(0);
        link.buf.writeUInt32LE(prog, 0);
        link.buf.writeUInt32LE(pfd, 4);
        link.buf.writeUInt32LE(BPF_PERF_EVENT, 8);
        const l = libc.syscall(NR_BPF, BPF_LINK_CREATE, link.ptr, 32);
        const lfd = Number(l.value);
        if (lfd < 0) throw stepError(`linking ${SAMPLE_PROGRAM} to CPU ${cpu}'s clock`, l.errnoCode, 'BPF links to perf events need Linux 5.15+');
        s.fds.push(lfd);
      }
    } catch (err) {
      s.close();
      throw err;
    } finally {
      for (const b of blocks) b.free();
    }
    return s;
  }

  /** Unlink and close every event (links first). Safe to call twice. */
  close(): void {
    const libc = libcCalls();
    for (const fd of this.fds.splice(0).reverse()) libc.close(fd);
  }
}

function stepError(step: string, errno: number, reason: string): BpfLoadError {
  const denied = errno === os.constants.errno.EPERM || errno === os.constants.errno.EACCES;
  return new BpfLoadError(step, errno, reason, denied ? CAPABILITY_ADVICE : 'run with --profile-hz 0 to time the kernel without profiling');
}

function writeConfig(bpf: LoadedBpf, target: ProfileTarget, periodNs: number): void {
  const v = Buffer.alloc(PROFILE_CONFIG.size);
  v.writeUInt32LE(target.serverPid, PROFILE_CONFIG.fields.server_pid);
  v.writeInt32LE(target.inFd, PROFILE_CONFIG.fields.in_fd);
  v.writeInt32LE(target.outFd, PROFILE_CONFIG.fields.out_fd);
  v.writeUInt32LE(periodNs, PROFILE_CONFIG.fields.period_ns);
  const k = Buffer.alloc(4);
  mapPutBytes(bpf.mapFd('profile_config'), k, v);
}
