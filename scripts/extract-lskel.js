#!/usr/bin/env node
'use strict';
// Turns bpftool's light skeleton (`bpftool gen skeleton -L`, a C header) into the JSON file
// src/probes/light-loader.ts reads: the loader program and its data blob, the maps and
// programs in the skeleton's order (the order of their slots in the loader's context), and
// where each program attaches. Usage: extract-lskel.js LSKEL.h OUT.json
const fs = require('fs');

const [, , input, output] = process.argv;
if (!input || !output) { console.error('usage: extract-lskel.js LSKEL.h OUT.json'); process.exit(2); }
const text = fs.readFileSync(input, 'utf8');
const fail = (why) => { console.error(`extract-lskel: ${input}: ${why}`); process.exit(1); };

// Global data (.rodata/.bss) would need its maps mmapped and filled in: lsptap has none.
if (/initial_value|skel_prep_map_data|skel_finalize_map_data/.test(text)) fail('maps with initial values are not supported');
if (/skel_link_create|kconfig/.test(text)) fail('only raw and BTF tracepoint and perf_event programs are supported');

/** A C string literal as bpftool prints it: only \0, \xHH and backslash-newline. */
function bytesOf(name) {
  const m = new RegExp(`opts\\.${name}_sz = (\\d+);[\\s\\S]*?opts\\.${name} = \\(void \\*\\)"([\\s\\S]*?)";`).exec(text);
  if (m === null) fail(`no opts.${name}`);
  const body = m[2].replace(/\\\n/g, '');
  const out = Buffer.alloc(Number(m[1]));
  let n = 0;
  for (let i = 0; i < body.length;) {
    if (body[i] !== '\\') fail(`unexpected character ${JSON.stringify(body[i])} in opts.${name}`);
    if (body[i + 1] === '0') { out[n++] = 0; i += 2; continue; }
    if (body[i + 1] === 'x') { out[n++] = parseInt(body.slice(i + 2, i + 4), 16); i += 4; continue; }
    fail(`unexpected escape in opts.${name}`);
  }
  if (n !== out.length) fail(`opts.${name} has ${n} bytes, expected ${out.length}`);
  return out;
}

const skel = /struct (\w+) \{\n\tstruct bpf_loader_ctx ctx;/.exec(text);
if (skel === null) fail('no skeleton struct');
const maps = [...text.matchAll(/\t\tstruct bpf_map_desc (\w+);/g)].map((m) => m[1]);
const programs = [...text.matchAll(/\t\tstruct bpf_prog_desc (\w+);/g)].map((m) => {
  const head = `${skel[1]}__${m[1]}__attach\\(struct ${skel[1]} \\*skel\\)\\n\\{\\n\\tint prog_fd = skel->progs\\.${m[1]}\\.prog_fd;\\n\\tint fd = `;
  // A perf_event program has no attach of its own: userspace opens perf events and links
  // it to each (src/probes/profile-sampler.ts).
  if (new RegExp(`${head}\\(\\(void\\)prog_fd, 0\\); /\\* auto-attach not supported \\*/`).test(text)) return { name: m[1], tracepoint: null, perfEvent: true };
  const attach = new RegExp(`${head}skel_raw_tracepoint_open\\((NULL|"(\\w+)"), prog_fd\\);`).exec(text);
  if (attach === null) fail(`no attach function for ${m[1]}`);
  return { name: m[1], tracepoint: attach[2] ?? null, perfEvent: false };
});
const data = bytesOf('data');
const insns = bytesOf('insns');
fs.writeFileSync(output, JSON.stringify({ skeleton: skel[1], maps, programs, data: data.toString('base64'), insns: insns.toString('base64') }) + '\n');
