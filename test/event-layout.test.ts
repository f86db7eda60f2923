// The TypeScript decoder mirrors bpf/io.h and bpf/tree.h; this checks every field offset
// and the size against the BTF of the built (linked) object.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BPF_OUTPUT_DIR } from '../src/probes/loader';
import { BPF_OBJECT, PROFILE_BPF_OBJECT } from '../src/probes/kernel-timing';
import { WATCHED_FDS_MAX, WATCHED_PIDS_MAX, IO_EVENT, IO_FD_BYTES, TREE_TOTALS, TREE_EVENT_HEAD, TREE_SNAPSHOT_EVENT, TREE_CHILD_CPU, TREE_EXEC_EVENT, TREE_EXIT_EVENT, SERVER_FD, IO_FD_KEY, type StructLayout } from '../src/probes/event-layout';
import { PROFILE_KEY, PROFILE_VALUE, PROFILE_STACK, PROFILE_CONFIG } from '../src/probes/profile-layout';

interface BtfStruct { size: number; fields: Record<string, number> }

function btfStruct(object: string, name: string): BtfStruct {
  const raw = execFileSync('bpftool', ['btf', 'dump', 'file', object, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = raw.split('\n');
  const at = lines.findIndex((l) => new RegExp(`STRUCT '${name}' size=(\\d+)`).test(l));
  assert.ok(at >= 0, `struct ${name} is not in the BTF of ${object}`);
  const head = /size=(\d+) vlen=(\d+)/.exec(lines[at])!;
  const fields: Record<string, number> = {};
  for (let i = 1; i <= Number(head[2]); i++) {
    const m = /'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(lines[at + i])!;
    fields[m[1]] = Number(m[2]) / 8;
  }
  return { size: Number(head[1]), fields };
}

const OBJECT = path.join(BPF_OUTPUT_DIR, BPF_OBJECT);
const built = fs.existsSync(OBJECT);
let tools = true;
try { execFileSync('bpftool', ['version'], { stdio: 'ignore' }); } catch { tools = false; }
const skip = !built ? 'the BPF objects are not built (npm run build:bpf)' : !tools ? 'bpftool is not installed' : false;
if (skip !== false && process.env.CI === 'true') throw new Error(`CI=true: ${skip}`);

const LAYOUTS: StructLayout[] = [IO_EVENT, IO_FD_BYTES, TREE_TOTALS, TREE_EVENT_HEAD, TREE_SNAPSHOT_EVENT, TREE_CHILD_CPU, TREE_EXEC_EVENT, TREE_EXIT_EVENT, SERVER_FD, IO_FD_KEY];
/** The profiler's structs are in the object it is linked into. */
const PROFILE_LAYOUTS: StructLayout[] = [PROFILE_KEY, PROFILE_VALUE, PROFILE_STACK, PROFILE_CONFIG];
for (const [layout, object] of [...LAYOUTS.map((l) => [l, BPF_OBJECT] as const), ...PROFILE_LAYOUTS.map((l) => [l, PROFILE_BPF_OBJECT] as const)]) {
  test(`the decoder's layout of struct ${layout.name} matches the BTF of ${object}`, { skip }, () => {
    const btf = btfStruct(path.join(BPF_OUTPUT_DIR, object), layout.name);
    assert.equal(layout.size, btf.size, 'size');
    assert.deepEqual(layout.fields, btf.fields);
  });
}

interface BtfType { id: number; kind: string; name?: string; type_id?: number; nr_elems?: number; members?: { name: string; type_id: number }[] }

/**
 * max_entries of every map named `name` in an object's BTF. A BTF-defined map is a variable
 * of the `.maps` section whose anonymous struct has `int (*max_entries)[N]` (libbpf's
 * __uint): N is the size libbpf creates the map with.
 */
function btfMaxEntries(object: string, name: string): number[] {
  const { types } = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { types: BtfType[] };
  const byId = new Map(types.map((t) => [t.id, t]));
  return types.filter((t) => t.kind === 'VAR' && t.name === name).map((v) => {
    const member = byId.get(v.type_id!)?.members?.find((m) => m.name === 'max_entries');
    assert.ok(member !== undefined, `map ${name} in ${object} has no max_entries`);
    const array = byId.get(byId.get(member.type_id)!.type_id!)!;
    assert.equal(array.kind, 'ARRAY');
    return array.nr_elems!;
  });
}

// A test, not a shared header: the TS constants name the limit in --listen's "maps are full"
// line and are what a user is told to raise, so they must be what the kernel map really holds.
for (const [map, max] of [['watched_pids', WATCHED_PIDS_MAX], ['watched_fds', WATCHED_FDS_MAX]] as const) {
  test(`${map === 'watched_pids' ? 'WATCHED_PIDS_MAX' : 'WATCHED_FDS_MAX'} (${max}) is max_entries of ${map} in ${BPF_OBJECT}, ${PROFILE_BPF_OBJECT} and each part linked into them`, { skip }, () => {
    const parts = fs.readdirSync(path.join(BPF_OUTPUT_DIR, 'parts')).filter((f) => f.endsWith('.bpf.o')).map((f) => path.join(BPF_OUTPUT_DIR, 'parts', f));
    for (const object of [BPF_OBJECT, PROFILE_BPF_OBJECT]) assert.deepEqual(btfMaxEntries(path.join(BPF_OUTPUT_DIR, object), map), [max], `${map} in ${object}`);
    const declared = parts.flatMap((p) => btfMaxEntries(p, map).map((n) => [path.basename(p), n] as const));
    assert.ok(declared.length > 0, `some part declares ${map}`);
    for (const [part, n] of declared) assert.equal(n, max, `${map} in ${part}`);
  });
}
