// Binaries whose sampled stacks stop at the leaf. The kernel walks user stacks by frame
// pointers; code built without them (most C and C++ at -O2 on x86-64: Debian's clangd and
// its LLVM libraries, the C library) leaves the register holding anything, so the walk
// stops after the sampled function, or goes on through addresses that are in no mapping.
// A binary is said to have no frame pointers when most of the samples whose innermost
// user frame is in it have only 1 or 2 user frames before the first unmapped one: a Go
// function has at least its caller and the goroutine's start below it.

import { KERNEL_MAPPING_FILE, type ProfileFrame } from './profile-file';

/** A binary whose stacks stop at the leaf: its file's base name, its samples and the share of them with 1-2 user frames. */
export interface LeafOnlyBinary { file: string; samples: number; pct: number }

/** User frames up to this many (before the first in no mapping) count as a stack stopped at the leaf. */
const LEAF_DEPTH = 2;
/** Fewer samples with their leaf in a binary than this say nothing about it. */
const MIN_SAMPLES = 5;
/** "Most": more than this share of them. */
const MOST = 0.5;

export function leafOnlyBinaries(samples: Iterable<{ count: number; stack: readonly ProfileFrame[] }>): LeafOnlyBinary[] {
  const by = new Map<string, { samples: number; shallow: number }>();
  for (const s of samples) {
    let i = 0;
    while (i < s.stack.length && s.stack[i].mapping?.file === KERNEL_MAPPING_FILE) i++;
    const leaf = s.stack[i]?.mapping;
    if (leaf === null || leaf === undefined) continue; // no user stack, or a leaf in no mapping
    let depth = 0;
    while (i + depth < s.stack.length && s.stack[i + depth].mapping !== null) depth++;
    const file = leaf.file.slice(leaf.file.lastIndexOf('/') + 1) || leaf.file;
    let b = by.get(file);
    if (b === undefined) by.set(file, (b = { samples: 0, shallow: 0 }));
    b.samples += s.count;
    if (depth <= LEAF_DEPTH) b.shallow += s.count;
  }
  return [...by]
    .filter(([, b]) => b.samples >= MIN_SAMPLES && b.shallow > MOST * b.samples)
    .sort((a, b) => b[1].samples - a[1].samples)
    .map(([file, b]) => ({ file, samples: b.samples, pct: Math.round((1000 * b.shallow) / b.samples) / 10 }));
}

/** `libclang-cpp.so.14 (96 % of its 250 samples have 1-2 user frames), libc.so.6 (...)`: for the notes that say so. */
export function leafOnlyText(binaries: readonly LeafOnlyBinary[]): string {
  return binaries.map((b) => `${b.file} (${Math.round(b.pct)} % of its ${b.samples.toLocaleString('en-US')} samples have 1-2 user frames)`).join(', ');
}
