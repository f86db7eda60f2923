// Which binaries' stacks stop at the leaf (no frame pointers), from sampled stacks: the
// rule the profile objects, lsptap profile, the pprof file and the report's note share.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leafOnlyBinaries, leafOnlyText } from '../src/model/leaf-stacks';
import { KERNEL_MAPPING, type ProfileFrame, type ProfileMapping } from '../src/model/profile-file';

const mapping = (file: string, start: bigint): ProfileMapping => ({ start, limit: start + 0x100000n, offset: 0n, file, buildId: null });
const clang = mapping('/usr/lib/x86_64-linux-gnu/libclang-cpp.so.14', 0x7f0000000000n);
const gopls = mapping('/usr/bin/gopls', 0x400000n);
const at = (m: ProfileMapping | null, address: bigint): ProfileFrame => ({ mapping: m, address, fn: null, file: null, line: null });
const kernel = at(KERNEL_MAPPING, 0xffffffff81000000n);

test('a binary most of whose samples have 1-2 user frames (before the first address in no mapping) stops at the leaf; a Go binary\'s deep stacks do not', () => {
  const samples = [
    // clangd: the leaf alone, the leaf and one more, the leaf then garbage outside every mapping.
    { count: 3, stack: [kernel, at(clang, clang.start + 16n)] },
    { count: 2, stack: [at(clang, clang.start + 32n), at(clang, clang.start + 48n)] },
    { count: 2, stack: [at(clang, clang.start + 64n), at(null, 0x25n), at(clang, clang.start + 80n), at(clang, clang.start + 96n)] },
    { count: 1, stack: [at(clang, clang.start + 64n), at(clang, clang.start + 80n), at(clang, clang.start + 96n)] },
    // gopls: function, caller, goroutine start.
    { count: 9, stack: [at(gopls, 0x401000n), at(gopls, 0x402000n), at(gopls, 0x403000n)] },
    { count: 1, stack: [at(gopls, 0x401000n)] },
  ];
  assert.deepEqual(leafOnlyBinaries(samples), [{ file: 'libclang-cpp.so.14', samples: 8, pct: 87.5 }]);
  assert.equal(leafOnlyText(leafOnlyBinaries(samples)), 'libclang-cpp.so.14 (88 % of its 8 samples have 1-2 user frames)');
});

test('fewer than 5 samples in a binary, or a leaf in no mapping, say nothing about frame pointers', () => {
  assert.deepEqual(leafOnlyBinaries([{ count: 4, stack: [at(clang, clang.start)] }, { count: 10, stack: [at(null, 0x1234n)] }, { count: 10, stack: [kernel] }]), []);
});
