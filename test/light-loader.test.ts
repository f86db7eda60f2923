// The light skeleton (src/probes/light-loader.ts): the kernel loads lsptap.bpf.o (or, with
// profiling, lsptap-profile.bpf.o) from the loader build-bpf.sh generated, with the same maps
// as libbpf's own loader, and anything it cannot do falls back to libbpf with the reason kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadBpf, skeletonFile, type LoadRequest } from '../src/probes/loader';
import { loadLight, readSkeleton, LightLoadError } from '../src/probes/light-loader';
import { BPF_OBJECT, PROFILE_BPF_OBJECT, IO_PROGRAMS, TREE_PROGRAMS, PROFILE_ATTACHED, PROFILE_LINKED, LoadedProbes } from '../src/probes/kernel-timing';
import { bpfSkipReason } from './helpers/kernel';
import { tmpDir } from './helpers/index';

const skip = bpfSkipReason();
const programs = [...IO_PROGRAMS, ...TREE_PROGRAMS];
const request: LoadRequest = { file: BPF_OBJECT, programs, allPrograms: programs };

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

/** Program names the kernel has loaded right now, from /proc/self/fdinfo of our own fds. */
function ourProgramCount(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { if (/^prog_type:/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))) n++; } catch { /* closed meanwhile */ }
  }
  return n;
}

test('the build writes a light skeleton for kernel timing alone and one with the profiler linked in', { skip }, () => {
  const skel = readSkeleton(skeletonFile(BPF_OBJECT));
  assert.deepEqual(skel.programs.map((p) => p.name).sort(), [...programs].sort());
  assert.ok(skel.maps.includes('tree_events') && skel.maps.includes('server_fds') && skel.maps.includes('watched_pids'));
  assert.deepEqual(skel.maps.filter((m) => m.startsWith('profile_') || m === 'wait_clock'), [], 'no profiler map in lsptap.bpf.o');
  const profiled = readSkeleton(skeletonFile(PROFILE_BPF_OBJECT));
  assert.deepEqual(profiled.programs.map((p) => p.name).sort(), [...programs, ...PROFILE_ATTACHED, ...PROFILE_LINKED].sort());
  assert.deepEqual(profiled.maps.filter((m) => !skel.maps.includes(m)).sort(), ['profile_config', 'profile_counters', 'profile_counts', 'profile_scratch', 'profile_stacks', 'profile_waiters', 'wait_clock']);
  // The profiler's sampling program is linked to perf events by its owner, not attached by the loader.
  assert.deepEqual(profiled.programs.filter((p) => p.perfEvent === true).map((p) => p.name), PROFILE_LINKED);
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

/**
 * The names of the BPF programs and maps this process holds: their ids from
 * /proc/self/fdinfo, their names from bpftool (a map's cut to 15 characters).
 */
function ourBpfNames(): { programs: string[]; maps: string[] } {
  const progIds = new Set<number>(), mapIds = new Set<number>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let info: string;
    try { info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { continue; }
    const prog = /^prog_id:\s*(\d+)/m.exec(info), map = /^map_id:\s*(\d+)/m.exec(info);
    if (prog !== null && !/^link_type:/m.test(info)) progIds.add(Number(prog[1]));
    if (map !== null) mapIds.add(Number(map[1]));
  }
  const shown = (what: string): { id: number; name?: string }[] => JSON.parse(execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { id: number; name?: string }[];
  return {
    programs: shown('prog').filter((p) => progIds.has(p.id)).map((p) => p.name ?? '').sort(),
    maps: shown('map').filter((m) => mapIds.has(m.id)).map((m) => m.name ?? '').sort(),
  };
}

const isProfilers = (name: string): boolean => name.startsWith('handle_profile') || name.startsWith('profile_') || name === 'wait_clock';

test('with --profile-hz 0 no program or map of the profiler is loaded; with profiling its object loads them and attaches only the switch program', { skip }, () => {
  const off = LoadedProbes.load({ profileHz: 0 });
  let names: { programs: string[]; maps: string[] };
  try {
    assert.equal(off.bpf.loader, 'light', `light skeleton not used: ${off.bpf.lightFailure}`);
    names = ourBpfNames();
  } finally {
    off.close();
  }
  assert.equal(names.programs.length, programs.length, `programs: ${names.programs.join(' ')}`);
  assert.deepEqual(names.programs.filter(isProfilers), []);
  assert.ok(names.maps.includes('watched_pids'), `maps: ${names.maps.join(' ')}`);
  assert.deepEqual(names.maps.filter(isProfilers), []);

  const on = LoadedProbes.load({ profileHz: 99 });
  try {
    assert.equal(on.bpf.loader, 'light', `light skeleton not used: ${on.bpf.lightFailure}`);
    names = ourBpfNames();
    assert.deepEqual(names.programs.filter(isProfilers), [...PROFILE_LINKED, ...PROFILE_ATTACHED].sort(), `programs: ${names.programs.join(' ')}`);
    assert.ok(names.maps.includes('profile_counts') && names.maps.includes('wait_clock'), `maps: ${names.maps.join(' ')}`);
    for (const p of [...PROFILE_ATTACHED, ...PROFILE_LINKED]) assert.ok(on.bpf.progFd(p) > 0, `${p} loaded`);
    // Links show in fdinfo as link_type: one per attached program; the sampling program is
    // linked to perf events only once a session's server runs.
    let links = 0;
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try { if (/^link_type:/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))) links++; } catch { /* closed meanwhile */ }
    }
    assert.equal(links, programs.length + PROFILE_ATTACHED.length);
  } finally {
    on.close();
  }
});
