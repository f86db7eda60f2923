// Loads one BPF object: with its light skeleton when build-bpf.sh made one (light-loader.ts:
// the kernel relocates and loads, nothing parses the kernel's BTF here), else with libbpf:
// open -> choose programs (autoload) -> load -> attach -> map fds. A failure names the step,
// the errno and the fix, and frees what was made (links, then the object). libbpf's own
// printing is switched off: it would go to stderr, and stdout must carry only the server's bytes.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeCalls, isNull, allocate, addressOf, type Pointer, type NativeBlock, LIBBPF_SONAME } from './native';
import { IO_FD_BYTES } from './event-layout';
import { loadLight, readSkeleton, LightLoadError, type LightObject, type LightSkeleton } from './light-loader';

/** Where `npm run build:bpf` puts the objects. */
export const BPF_OUTPUT_DIR = path.join(__dirname, '..', '..', '..', 'bpf', '.output');
export const BTF_PATH = '/sys/kernel/btf/vmlinux';

export { BpfLoadError, CAPABILITY_ADVICE } from './bpf-errors';
import { BpfLoadError, CAPABILITY_ADVICE } from './bpf-errors';

function fixFor(errno: number, fallback: string): string {
  if (errno === os.constants.errno.EPERM || errno === os.constants.errno.EACCES) return CAPABILITY_ADVICE;
  return fallback;
}

export interface LoadedBpf {
  readonly name: string;
  /** How it was loaded: libbpf's light skeleton (the usual way), or bpf_object__load (the fallback). */
  readonly loader: 'light' | 'libbpf';
  /** Why the light skeleton was not used, when it was not. */
  readonly lightFailure: string | null;
  mapFd(name: string): number;
  mapMaxEntries(name: string): number;
  /** A loaded program's fd (for a perf_event program, which its owner attaches). */
  progFd(name: string): number;
  /** Destroy links, then close the object. Safe to call twice. */
  close(): void;
}

export interface LoadRequest {
  /** Object file name under BPF_OUTPUT_DIR, e.g. "lsptap.bpf.o". */
  file: string;
  /** Programs to load and attach; every other program in the object is not attached. */
  programs: string[];
  /**
   * Programs to load but not attach (perf_event programs: the profiler links them to its
   * perf events). The light skeleton loads every program of the object anyway; libbpf
   * loads only these and `programs`.
   */
  loadOnly?: string[];
  /** All programs in the object, so the others can be switched off. */
  allPrograms: string[];
}

/** Things that make loading pointless; checked before touching libbpf. */
export function precheck(): void {
  if (!fs.existsSync(BTF_PATH)) throw new BpfLoadError('precheck', 0, `this kernel exposes no BTF at ${BTF_PATH}`, 'kernel timing needs a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  try {
    nativeCalls();
  } catch (err) {
    throw new BpfLoadError('precheck', 0, `cannot open ${LIBBPF_SONAME}: ${(err as Error).message}`, 'install libbpf1 (Debian, Ubuntu: apt-get install libbpf1); the relay runs without it');
  }
}

/** The light skeleton of an object: build-bpf.sh writes it beside the object. */
export function skeletonFile(objectFile: string): string {
  return path.join(BPF_OUTPUT_DIR, objectFile.replace(/\.bpf\.o$/, '.loader.json'));
}

/**
 * Load and attach every program of the object: with its light skeleton (light-loader.ts)
 * when there is one and the kernel runs it, else with libbpf's bpf_object__load, whose
 * errors name the step and the fix.
 */
export function loadBpf(req: LoadRequest, opts: { light?: boolean; skeleton?: string } = {}): LoadedBpf {
  let lightFailure: string | null = null;
  const skelFile = opts.skeleton ?? skeletonFile(req.file);
  if (opts.light !== false && fs.existsSync(skelFile)) {
    try {
      const skel = readSkeleton(skelFile);
      const all = skel.programs.map((p) => p.name);
      const missing = [...req.programs, ...(req.loadOnly ?? [])].find((p) => !all.includes(p));
      if (missing !== undefined) throw new Error(`program ${missing} is not in the light skeleton`);
      const obj = loadLightRetrying(skel, new Set(req.programs));
      return {
        name: req.file, loader: 'light', lightFailure: null,
        mapFd(name: string): number {
          const fd = obj.mapFds.get(name);
          if (fd === undefined) throw new BpfLoadError('maps', os.constants.errno.ENOENT, `map ${name} is not in ${req.file}`, 'rebuild with `npm run build:bpf`');
          return fd;
        },
        mapMaxEntries: (name: string) => obj.mapMaxEntries(name),
        progFd(name: string): number {
          const fd = obj.progFds.get(name);
          if (fd === undefined) throw new BpfLoadError('programs', os.constants.errno.ENOENT, `program ${name} is not in ${req.file}`, 'rebuild with `npm run build:bpf`');
          return fd;
        },
        close: () => obj.close(),
      };
    } catch (err) {
      lightFailure = (err as Error).message;
    }
  }
  return loadWithLibbpf(req, lightFailure);
}

/**
 * The verifier gives up with EAGAIN when a signal arrives while it works (a profiler's
 * SIGPROF, a terminal's SIGWINCH); libbpf tries a program load 5 times, and so does this.
 */
function loadLightRetrying(skel: LightSkeleton, attach: ReadonlySet<string>): LightObject {
  for (let attempt = 1; ; attempt++) {
    try {
      return loadLight(skel, attach);
    } catch (err) {
      if (!(err instanceof LightLoadError) || err.errno !== os.constants.errno.EAGAIN || attempt >= 5) throw err;
    }
  }
}

function loadWithLibbpf(req: LoadRequest, lightFailure: string | null): LoadedBpf {
  const n = nativeCalls();
  n.libbpf_set_print(0);
  const file = path.join(BPF_OUTPUT_DIR, req.file);
  if (!fs.existsSync(file)) throw new BpfLoadError('open', os.constants.errno.ENOENT, `${file} does not exist`, 'build it with `npm run build:bpf` (needs clang and bpftool: scripts/setup.sh)');
  const opened = n.bpf_object__open_file(file, 0);
  if (isNull(opened.value)) throw new BpfLoadError('open', opened.errnoCode, `bpf_object__open_file(${req.file}) returned NULL`, fixFor(opened.errnoCode, 'rebuild with `npm run build:bpf`'));
  const obj = opened.value;
  const links: Pointer[] = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const l of links.splice(0)) n.bpf_link__destroy(l);
    n.bpf_object__close(obj);
  };
  try {
    const progs = new Map<string, Pointer>();
    for (const name of req.allPrograms) {
      const p = n.bpf_object__find_program_by_name(obj, name);
      if (isNull(p.value)) throw new BpfLoadError('open', p.errnoCode, `program ${name} is not in ${req.file}`, 'rebuild with `npm run build:bpf`');
      progs.set(name, p.value);
      n.bpf_program__set_autoload(p.value, req.programs.includes(name) || (req.loadOnly ?? []).includes(name));
    }
    const loaded = n.bpf_object__load(obj);
    if (loaded.value !== 0) {
      const errno = -loaded.value || loaded.errnoCode;
      throw new BpfLoadError('load', errno, `the kernel refused ${req.file} (${req.programs.join(', ')})`, fixFor(errno, 'the kernel may lack BPF ring buffers (5.8+) or BTF tracepoints'));
    }
    for (const name of req.programs) {
      const l = n.bpf_program__attach(progs.get(name)!);
      if (isNull(l.value)) throw new BpfLoadError('attach', l.errnoCode, `attaching ${name} failed`, fixFor(l.errnoCode, 'the kernel refused the tracepoint'));
      links.push(l.value);
    }
  } catch (err) {
    close();
    throw err;
  }
  return {
    name: req.file, loader: 'libbpf', lightFailure,
    mapFd(name: string): number {
      const fd = n.bpf_object__find_map_fd_by_name(obj, name).value;
      if (fd < 0) throw new BpfLoadError('maps', -fd, `map ${name} is not in ${req.file}`, 'rebuild with `npm run build:bpf`');
      return fd;
    },
    progFd(name: string): number {
      const p = n.bpf_object__find_program_by_name(obj, name);
      const fd = isNull(p.value) ? -1 : n.bpf_program__fd(p.value).value;
      if (fd < 0) throw new BpfLoadError('programs', os.constants.errno.ENOENT, `program ${name} is not loaded from ${req.file}`, 'rebuild with `npm run build:bpf`');
      return fd;
    },
    mapMaxEntries(name: string): number {
      const m = n.bpf_object__find_map_by_name(obj, name);
      if (isNull(m.value)) throw new BpfLoadError('maps', m.errnoCode, `map ${name} is not in ${req.file}`, 'rebuild with `npm run build:bpf`');
      return n.bpf_map__max_entries(m.value).value;
    },
    close,
  };
}

/** Write one u32 -> u32 (or key buffer -> u32) entry. */
export function mapPut(fd: number, key: Buffer, value: number): void {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(value);
  mapPutBytes(fd, key, v);
}

/**
 * Watch one byte stream: a watched_fds entry for (pid, fd), its byte counts at zero
 * (struct io_fd_bytes: bpf/io.h).
 */
export function watchStream(mapFd: number, key: Buffer): void {
  mapPutBytes(mapFd, key, Buffer.alloc(IO_FD_BYTES.size));
}

/** Write one entry whose value is a whole struct. */
export function mapPutBytes(fd: number, key: Buffer, value: Buffer): void {
  if (!mapTryPut(fd, key, value)) throw new BpfLoadError('map update', os.constants.errno.E2BIG, 'bpf_map_update_elem failed', 'the map is full');
}

/** Write one entry; false when the map is full (E2BIG), a BpfLoadError for any other failure. */
export function mapTryPut(fd: number, key: Buffer, value: Buffer): boolean {
  const r = nativeCalls().bpf_map_update_elem(fd, key, value, 0);
  if (r.value === 0) return true;
  const errno = -r.value || r.errnoCode;
  if (errno === os.constants.errno.E2BIG) return false;
  throw new BpfLoadError('map update', errno, 'bpf_map_update_elem failed', 'the map may be full');
}

/** Entries read per bpf_map_lookup_batch call: one call for any usual fd table. */
const BATCH_ENTRIES = 256;

type MapEntry = (key: Buffer, keyAt: number, value: Buffer, valueAt: number) => void;

/**
 * Every entry of a HASH map, with bpf_map_lookup_batch (a call per BATCH_ENTRIES entries);
 * each is handed to `entry` with the key and value buffers and their offsets, valid only
 * during the call. Entries added or removed meanwhile may or may not be seen.
 */
export function readHashMap(fd: number, keySize: number, valueSize: number, entry: MapEntry): void {
  const b = new MapBatches(fd, keySize, valueSize);
  try { b.read(entry); } finally { b.free(); }
}

/**
 * Every entry of a HASH map, each deleted as it is read (bpf_map_lookup_and_delete_batch):
 * what the kernel adds meanwhile stays for the next call, and nothing is counted twice.
 */
export function takeHashMap(fd: number, keySize: number, valueSize: number, entry: MapEntry): void {
  const b = new MapBatches(fd, keySize, valueSize);
  try { b.take(entry); } finally { b.free(); }
}

/**
 * Batch reads of one HASH map through native buffers made once, for a map read again and
 * again (the profiler's, every drain): a fresh malloc of a batch of 256 stacks (260 kB) is
 * an mmap, and its pages fault in and go back at every read.
 */
export class MapBatches {
  private readonly keys: NativeBlock;
  private readonly values: NativeBlock;
  private readonly count: NativeBlock;
  /** The batch position: what one call leaves in out_batch, the next passes as in_batch. */
  private readonly batches: [NativeBlock, NativeBlock];
  private readonly batchAddresses: [number, number];

  constructor(private readonly fd: number, private readonly keySize: number, private readonly valueSize: number) {
    this.keys = allocate(keySize * BATCH_ENTRIES);
    this.values = allocate(valueSize * BATCH_ENTRIES);
    this.count = allocate(4);
    this.batches = [allocate(8), allocate(8)];
    this.batchAddresses = [addressOf(this.batches[0].ptr), addressOf(this.batches[1].ptr)];
  }

  /** Every entry (readHashMap). */
  read(entry: MapEntry): void { this.run(entry, false); }

  /** Every entry, each deleted as it is read (takeHashMap). */
  take(entry: MapEntry): void { this.run(entry, true); }

  free(): void {
    this.keys.free(); this.values.free(); this.count.free(); for (const b of this.batches) b.free();
  }

  private run(entry: MapEntry, take: boolean): void {
    const n = nativeCalls();
    const batch = take ? n.bpf_map_lookup_and_delete_batch : n.bpf_map_lookup_batch;
    const { keys, values, count, batches } = this;
    for (let i = 0, first = true; ; i ^= 1, first = false) {
      count.buf.writeUInt32LE(BATCH_ENTRIES);
      const inBatch = first ? 0 : this.batchAddresses[i ^ 1];
      const r = batch(this.fd, inBatch, batches[i].ptr, keys.ptr, values.ptr, count.ptr, 0);
      const done = r.value !== 0 && r.errnoCode === os.constants.errno.ENOENT;
      if (r.value !== 0 && !done) throw new BpfLoadError('map read', r.errnoCode, 'bpf_map_lookup_batch failed', 'needs Linux 5.6+');
      const got = count.buf.readUInt32LE(0);
      for (let e = 0; e < got; e++) entry(keys.buf, e * this.keySize, values.buf, e * this.valueSize);
      if (done) return;
    }
  }
}

export function u32Key(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(x);
  return b;
}

/** Read an ARRAY map of u64 counters with one bpf_map_lookup_batch call. */
export function readCounters(fd: number, slots: number): number[] {
  const n = nativeCalls();
  const keys = allocate(4 * slots), values = allocate(8 * slots), count = allocate(4), out = allocate(4);
  try {
    count.buf.writeUInt32LE(slots);
    const r = n.bpf_map_lookup_batch(fd, 0, out.ptr, keys.ptr, values.ptr, count.ptr, 0);
    // ENOENT means "no more entries", with count holding what was read.
    if (r.value !== 0 && r.errnoCode !== os.constants.errno.ENOENT) throw new BpfLoadError('counters', r.errnoCode, 'bpf_map_lookup_batch failed', 'needs Linux 5.6+');
    const got = count.buf.readUInt32LE(0);
    const res = new Array<number>(slots).fill(0);
    for (let i = 0; i < got; i++) {
      const k = keys.buf.readUInt32LE(4 * i);
      if (k < slots) res[k] = Number(values.buf.readBigUInt64LE(8 * i));
    }
    return res;
  } finally {
    keys.free(); values.free(); count.free(); out.free();
  }
}
