// Loads lsptap's BPF object the way libbpf's light skeleton does (`bpftool gen skeleton -L`,
// libbpf's skel_internal.h bpf_load_and_run): a loader program generated at build time
// (scripts/extract-lskel.js) runs in the kernel, creates the maps, applies the CO-RE
// relocations against the kernel's own BTF and loads every program, handing back their fds.
// This process never parses the kernel's 5.5 MB BTF, which bpf_object__load did: 20-30 ms
// of CPU per session (docs/kernel-timing.md "How it is built"). Needs BPF_PROG_TYPE_SYSCALL and in-kernel
// CO-RE (Linux 5.17+); loader.ts falls back to libbpf's bpf_object__load without them.
//
// The bpf(2) commands are issued through libc's syscall(), union bpf_attr laid out by hand:
// the kernel's UAPI, stable by rule. Offsets checked against linux/bpf.h with offsetof.

import fs from 'node:fs';
import os from 'node:os';
import { allocate, addressOf, libcCalls, NR_BPF, type NativeBlock } from './native';

/** What extract-lskel.js writes: the skeleton's maps and programs in slot order, and the loader. */
export interface LightSkeleton {
  skeleton: string;
  maps: string[];
  /** tracepoint: the raw tracepoint's name, or null for a BTF tracepoint (found at load). */
  programs: Array<{ name: string; tracepoint: string | null; perfEvent?: boolean }>;
  /** base64: the loader's data blob, and its instructions. */
  data: string;
  insns: string;
}

export interface LightObject {
  readonly mapFds: ReadonlyMap<string, number>;
  /** Every program's fd: the loader loads them all, attached or not. */
  readonly progFds: ReadonlyMap<string, number>;
  mapMaxEntries(name: string): number;
  /** Detach (close the links), then close programs and maps. Safe to call twice. */
  close(): void;
}

/** A step of the light loader failed; `errno` is the kernel's answer. */
export class LightLoadError extends Error {
  constructor(readonly step: string, readonly errno: number) {
    super(`${step} failed (errno ${errno})`);
  }
}

const BPF_MAP_CREATE = 0;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_PROG_LOAD = 5;
const BPF_PROG_TEST_RUN = 10;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_RAW_TRACEPOINT_OPEN = 17;
const BPF_MAP_TYPE_ARRAY = 2;
const BPF_PROG_TYPE_SYSCALL = 31;
const BPF_F_SLEEPABLE = 1 << 4;
/** sizeof(struct bpf_loader_ctx), bpf_map_desc and bpf_prog_desc (skel_internal.h). */
const CTX_HEADER = 24;
const MAP_DESC = 16;
const PROG_DESC = 4;
/** offsetof(struct bpf_map_info, max_entries). */
const MAP_INFO_MAX_ENTRIES = 16;
const MAP_INFO_SIZE = 96;

export function readSkeleton(file: string): LightSkeleton {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as LightSkeleton;
}

/** Native memory holding a copy of bytes (the kernel reads it by address). */
function nativeCopy(bytes: Buffer, blocks: NativeBlock[]): NativeBlock {
  const b = allocate(Math.max(bytes.length, 1));
  blocks.push(b);
  bytes.copy(b.buf);
  return b;
}

function zeroed(size: number, blocks: NativeBlock[]): NativeBlock {
  const b = allocate(size);
  blocks.push(b);
  b.buf.fill(0);
  return b;
}

function bpf(cmd: number, attr: NativeBlock, size: number, step: string): number {
  const r = libcCalls().syscall(NR_BPF, cmd, attr.ptr, size);
  const value = Number(r.value);
  if (value < 0) throw new LightLoadError(step, r.errnoCode || os.constants.errno.EINVAL);
  return value;
}

/**
 * Load every program of the skeleton and attach those `attach` names (all tracepoint
 * programs when null; perf_event programs are never attached here: their owner links them
 * to perf events). Throws LightLoadError, having closed what it made.
 */
export function loadLight(skel: LightSkeleton, attach: ReadonlySet<string> | null = null): LightObject {
  const libc = libcCalls();
  const blocks: NativeBlock[] = [];
  const fds: number[] = [];
  const closeAll = (): void => { for (const fd of fds.splice(0).reverse()) libc.close(fd); };
  try {
    const data = Buffer.from(skel.data, 'base64');
    const insns = Buffer.from(skel.insns, 'base64');
    // The loader's data blob goes in a one-element array map the loader program reads.
    const create = zeroed(72, blocks);
    create.buf.writeUInt32LE(BPF_MAP_TYPE_ARRAY, 0);
    create.buf.writeUInt32LE(4, 4);
    create.buf.writeUInt32LE(data.length, 8);
    create.buf.writeUInt32LE(1, 12);
    create.buf.write('__loader.map', 28, 'latin1');
    const dataMap = bpf(BPF_MAP_CREATE, create, 72, 'loader map create');
    const dataMapFd = zeroed(4, blocks);
    dataMapFd.buf.writeInt32LE(dataMap, 0);
    try {
      const update = zeroed(32, blocks);
      update.buf.writeUInt32LE(dataMap, 0);
      update.buf.writeBigUInt64LE(BigInt(addressOf(zeroed(4, blocks).ptr)), 8);
      update.buf.writeBigUInt64LE(BigInt(addressOf(nativeCopy(data, blocks).ptr)), 16);
      bpf(BPF_MAP_UPDATE_ELEM, update, 32, 'loader map update');

      const load = zeroed(128, blocks);
      load.buf.writeUInt32LE(BPF_PROG_TYPE_SYSCALL, 0);
      load.buf.writeUInt32LE(insns.length / 8, 4);
      load.buf.writeBigUInt64LE(BigInt(addressOf(nativeCopy(insns, blocks).ptr)), 8);
      load.buf.writeBigUInt64LE(BigInt(addressOf(nativeCopy(Buffer.from('Dual BSD/GPL\0', 'latin1'), blocks).ptr)), 16);
      load.buf.writeUInt32LE(BPF_F_SLEEPABLE, 44);
      load.buf.write('__loader.prog', 48, 'latin1');
      load.buf.writeBigUInt64LE(BigInt(addressOf(dataMapFd.ptr)), 120);
      const loaderProg = bpf(BPF_PROG_LOAD, load, 128, 'loader program load');
      try {
        // The loader's context: a header, then one slot per map and per program for their fds.
        const ctxSize = CTX_HEADER + MAP_DESC * skel.maps.length + PROG_DESC * skel.programs.length;
        const ctx = zeroed(ctxSize, blocks);
        ctx.buf.writeUInt32LE(ctxSize, 0);
        const run = zeroed(80, blocks);
        run.buf.writeUInt32LE(loaderProg, 0);
        run.buf.writeUInt32LE(ctxSize, 40);
        run.buf.writeBigUInt64LE(BigInt(addressOf(ctx.ptr)), 48);
        bpf(BPF_PROG_TEST_RUN, run, 80, 'loader program run');
        // Whatever the loader made is ours to close, even when it failed half-way.
        const mapFds = new Map<string, number>();
        skel.maps.forEach((name, i) => { const fd = ctx.buf.readInt32LE(CTX_HEADER + MAP_DESC * i); if (fd > 0) { fds.push(fd); mapFds.set(name, fd); } });
        const progsAt = CTX_HEADER + MAP_DESC * skel.maps.length;
        const progFds = skel.programs.map((_, i) => { const fd = ctx.buf.readInt32LE(progsAt + PROG_DESC * i); if (fd > 0) fds.push(fd); return fd; });
        const retval = run.buf.readInt32LE(4);
        if (retval < 0) throw new LightLoadError('loader program', -retval);
        const byName = new Map<string, number>();
        skel.programs.forEach((p, i) => {
          if (progFds[i] <= 0) throw new LightLoadError(`loading ${p.name}`, os.constants.errno.EINVAL);
          byName.set(p.name, progFds[i]);
          if (p.perfEvent === true || (attach !== null && !attach.has(p.name))) return;
          const open = zeroed(16, blocks);
          if (p.tracepoint !== null) open.buf.writeBigUInt64LE(BigInt(addressOf(nativeCopy(Buffer.from(`${p.tracepoint}\0`, 'latin1'), blocks).ptr)), 0);
          open.buf.writeUInt32LE(progFds[i], 8);
          fds.push(bpf(BPF_RAW_TRACEPOINT_OPEN, open, 16, `attaching ${p.name}`));
        });
        return lightObject(mapFds, byName, fds);
      } finally {
        libc.close(loaderProg);
      }
    } finally {
      libc.close(dataMap);
    }
  } catch (err) {
    closeAll();
    throw err;
  } finally {
    for (const b of blocks) b.free();
  }
}

function lightObject(mapFds: Map<string, number>, progFds: Map<string, number>, fds: number[]): LightObject {
  const libc = libcCalls();
  return {
    mapFds, progFds,
    mapMaxEntries(name: string): number {
      const fd = mapFds.get(name);
      if (fd === undefined) throw new LightLoadError(`map ${name}`, os.constants.errno.ENOENT);
      const blocks: NativeBlock[] = [];
      try {
        const info = zeroed(MAP_INFO_SIZE, blocks);
        const attr = zeroed(16, blocks);
        attr.buf.writeUInt32LE(fd, 0);
        attr.buf.writeUInt32LE(MAP_INFO_SIZE, 4);
        attr.buf.writeBigUInt64LE(BigInt(addressOf(info.ptr)), 8);
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr, 16, `map ${name} info`);
        return info.buf.readUInt32LE(MAP_INFO_MAX_ENTRIES);
      } finally {
        for (const b of blocks) b.free();
      }
    },
    // Links were opened last: closing in reverse detaches before the programs and maps go.
    close(): void { for (const fd of fds.splice(0).reverse()) libc.close(fd); },
  };
}
