// The light skeleton (src/probes/light-loader.ts): the kernel loads lsptap.bpf.o from the
// loader build-bpf.sh generated, with the same maps as libbpf's own loader, and anything it
// cannot do falls back to libbpf with the reason kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadBpf, skeletonFile, type LoadRequest } from '../src/probes/loader';
import { loadLight, readSkeleton, LightLoadError } from '../src/probes/light-loader';
import { BPF_OBJECT, IO_PROGRAMS, TREE_PROGRAMS, PROFILE_ATTACHED, PROFILE_LINKED } from '../src/probes/kernel-timing';
import { bpfSkipReason } from './helpers/kernel';
import { tmpDir } from './helpers/index';

const skip = bpfSkipReason();
const programs = [...IO_PROGRAMS, ...TREE_PROGRAMS];
const request: LoadRequest = { file: BPF_OBJECT, programs, allPrograms: [...programs, ...PROFILE_ATTACHED, ...PROFILE_LINKED] };

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

/** Program names the kernel has loaded right now, from /proc/self/fdinfo of our own fds. */
function ourProgramCount(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { if (/^prog_type:/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))) n++; } catch { /* closed meanwhile */ }
  }
  return n;
}

test('the build writes a light skeleton with every program and map of lsptap.bpf.o', { skip }, () => {
  const skel = readSkeleton(skeletonFile(BPF_OBJECT));
  assert.deepEqual(skel.programs.map((p) => p.name).sort(), [...programs, ...PROFILE_ATTACHED, ...PROFILE_LINKED].sort());
  // The profiler's sampling program is linked to perf events by its owner, not attached by the loader.
  assert.deepEqual(skel.programs.filter((p) => p.perfEvent === true).map((p) => p.name), PROFILE_LINKED);
  assert.ok(skel.maps.includes('tree_events') && skel.maps.includes('server_fds') && skel.maps.includes('watched_pids'));
  // raw_tp programs name their tracepoint; tp_btf ones are found by the loader (null). Every
  // program is tp_btf since one program per hook serves io and the tree (bpf/syscalls.bpf.c).
  assert.deepEqual(skel.programs.filter((p) => p.tracepoint !== null).map((p) => p.tracepoint), []);
});

test('lsptap loads its BPF object with the light skeleton: every program loaded, the same maps and sizes as libbpf gives', { skip }, () => {
  const fds0 = openFds();
  const light = loadBpf(request);
  const libbpf = loadBpf(request, { light: false });
  try {
    assert.equal(light.loader, 'light', `light skeleton not used: ${light.lightFailure}`);
    assert.equal(libbpf.loader, 'libbpf');
    for (const map of readSkeleton(skeletonFile(BPF_OBJECT)).maps) {
      assert.ok(light.mapFd(map) > 0, map);
      assert.equal(light.mapMaxEntries(map), libbpf.mapMaxEntries(map), `${map}: max entries`);
    }
  } finally {
    light.close();
    libbpf.close();
  }
  assert.equal(openFds(), fds0, 'closing gives back every map, program and link fd');
});

test('a light skeleton the kernel refuses leaves nothing open, and lsptap falls back to libbpf saying why', { skip }, (t) => {
  const skel = readSkeleton(skeletonFile(BPF_OBJECT));
  // A loader whose first instruction is an invalid opcode: the verifier refuses it.
  const insns = Buffer.from(skel.insns, 'base64');
  insns[0] = 0xff;
  const broken = { ...skel, insns: insns.toString('base64') };
  const fds0 = openFds();
  assert.throws(() => loadLight(broken), (err: unknown) => err instanceof LightLoadError && err.step === 'loader program load' && err.errno > 0);
  assert.equal(openFds(), fds0, 'the loader map and everything else closed');

  const file = path.join(tmpDir(t), 'broken.loader.json');
  fs.writeFileSync(file, JSON.stringify(broken));
  const loaded = loadBpf(request, { skeleton: file });
  try {
    assert.equal(loaded.loader, 'libbpf');
    assert.match(loaded.lightFailure ?? '', /^loader program load failed \(errno \d+\)$/);
    assert.equal(ourProgramCount(), programs.length, 'libbpf loaded every program asked for, and not the profiler\'s');
  } finally {
    loaded.close();
  }
});

test('the light skeleton loads the profiler\'s programs but attaches only what is asked: profiling off costs no attached program', { skip }, () => {
  const light = loadBpf(request);
  try {
    assert.equal(light.loader, 'light', `light skeleton not used: ${light.lightFailure}`);
    for (const p of [...PROFILE_ATTACHED, ...PROFILE_LINKED]) assert.ok(light.progFd(p) > 0, `${p} loaded`);
    // Links show in fdinfo as link_type: one per attached program, none for the profiler.
    let links = 0;
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try { if (/^link_type:/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))) links++; } catch { /* closed meanwhile */ }
    }
    assert.equal(links, programs.length);
  } finally {
    light.close();
  }
});
