// The report's flame graph: inline SVG drawn from profile samples, checked in a real
// Chromium under a Content-Security-Policy that allows nothing (no script, no style): the
// boxes' widths are the functions' shares, callers sit below callees, names are escaped and
// the size stays bounded however many distinct stacks there are.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { KERNEL_MAPPING, profileFileFor, type ProfileFrame, type ProfileSample } from '../src/model/profile-file';
import { renderFlameGraph } from '../src/report/flame-graph';
import { RequestProfiles } from '../src/report/request-profiles';
import { ProfileWriter } from '../src/sinks/profile-writer';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const gopls = { start: 0x400000n, limit: 0xcea000n, offset: 0n, file: '/usr/bin/gopls', buildId: null };

function frame(fn: string | null, address = 0x401000n): ProfileFrame {
  return { mapping: fn?.startsWith('k:') ? KERNEL_MAPPING : gopls, address, fn: fn?.replace(/^k:/, '') ?? null, file: null, line: null };
}

/** Leaf first, as samples hold stacks. */
function sample(names: (string | null)[], ms: number): ProfileSample {
  return { kind: 'cpu', method: 'textDocument/hover', id: 1, count: ms / 10, valueNs: ms * 1e6, stack: names.map((n) => frame(n)) };
}

test('a flame graph is inline SVG whose boxes are the functions\' shares, callers below callees, under a CSP that allows nothing', { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed; run scripts/setup.sh` }, async (t) => {
  const svg = renderFlameGraph([
    sample(['go/types.(*Checker).exprInternal', 'go/types.(*Checker).expr', 'main.main'], 600),
    sample(['k:vfs_read', 'os.(*File).Read', 'main.main'], 300),
    sample(['sort.Less[<T>]', 'main.main'], 100),
    sample([null, 'main.main'], 0.5), // below the default 0.2 %: left out, its time in main.main
  ], { widthPx: 1000, label: 'hover 1' });
  assert.doesNotMatch(svg, /<script|style=|on[a-z]+=|href/i);
  assert.match(svg, /sort\.Less\[&#60;T&#62;\]/, 'names are escaped');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-flame-'));
  let browser: BrowserContext | null = null;
  t.after(async () => { await browser?.close(); fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }); });
  const page = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body>${svg}</body></html>`;
  const file = path.join(dir, 'flame.html');
  fs.writeFileSync(file, page);
  browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1000, height: 400 } });
  const tab = browser.pages()[0] ?? await browser.newPage();
  const problems: string[] = [];
  tab.on('console', (m) => problems.push(`${m.type()}: ${m.text()}`));
  await tab.goto(`file://${file}`);
  const boxes = await tab.$$eval('svg.flame-graph g', (gs) => gs.map((g) => {
    const r = g.querySelector('rect')!.getBoundingClientRect();
    return { title: g.querySelector('title')!.textContent!, x: r.x, y: r.y, w: r.width };
  }));
  assert.deepEqual(problems, []);
  const byName = (prefix: string): { title: string; x: number; y: number; w: number } => {
    const b = boxes.find((x) => x.title.startsWith(`${prefix} (`));
    assert.ok(b, `${prefix} drawn: ${boxes.map((x) => x.title).join(', ')}`);
    return b;
  };
  const all = byName('all');
  const main = byName('main.main');
  const expr = byName('go/types.(*Checker).expr');
  const leaf = byName('go/types.(*Checker).exprInternal');
  const kernel = byName('vfs_read');
  assert.equal(boxes.length, 7, 'all, main, expr, exprInternal, Read, vfs_read, sort.Less; not the 0.5 ms frame');
  const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 2, `${what}: ${a} vs ${b}`);
  near(main.w, all.w, 'main.main spans everything');
  near(expr.w, all.w * (600 / 1000.5), 'expr is 60 %');
  near(kernel.w, all.w * (300 / 1000.5), 'vfs_read is 30 %');
  assert.ok(all.y > main.y && main.y > expr.y && expr.y > leaf.y, 'callers below callees');
  assert.equal(leaf.title, 'go/types.(*Checker).exprInternal (600.0 ms, 60.0%)');
});

test('a flame graph of 20,000 distinct stacks stays within its node bound', () => {
  const samples: ProfileSample[] = [];
  for (let i = 0; i < 20_000; i++) samples.push(sample([`pkg.leaf${i}`, `pkg.mid${i % 300}`, `pkg.top${i % 7}`, 'main.main'], 1 + (i % 13)));
  const svg = renderFlameGraph(samples, { maxNodes: 500 });
  const groups = svg.match(/<g>/g)?.length ?? 0;
  assert.ok(groups <= 500 && groups > 7, `${groups} boxes`);
  assert.ok(svg.length < 150_000, `${svg.length} bytes`);
  assert.equal(renderFlameGraph([]).includes('<rect'), false, 'no samples: an empty graph');
});

test('a report finds each slow request\'s profile by session, method and id in the profile file its log names', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-flame-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'session.jsonl');
  // Two sessions appended to one log, each with a request 12: their profiles stay apart.
  for (const [session, leaf] of [['s1', 'go/types.(*Checker).exprInternal'], ['s2', 'go/parser.(*parser).parseFile']]) {
    const w = ProfileWriter.open(log, { hz: 99, session });
    w.add([
      { ...sample([leaf, 'main.main'], 300), id: 12 },
      { ...sample(['k:schedule', 'syscall.Syscall', 'main.main'], 50), kind: 'wait', id: 12 },
    ]);
    w.close();
  }
  fs.writeFileSync(log, [{ msg: 'session end', session: 's1', profileFile: path.basename(profileFileFor(log)) }, { msg: 'session end', session: 's2', profileFile: path.basename(profileFileFor(log)) }].map((l) => JSON.stringify(l)).join('\n') + '\n');
  const profiles = await RequestProfiles.load([log]);
  const one = profiles.htmlFor({ session: 's1', method: 'textDocument/hover', id: 12 });
  const two = profiles.htmlFor({ session: 's2', method: 'textDocument/hover', id: 12 });
  assert.ok(one && two);
  assert.match(one, /On CPU 300 ms \(30 samples\); waiting 50 ms, in schedule most\./);
  assert.match(one, /<svg[^>]+class="flame-graph"/);
  assert.match(one, /<td>100\.0%<\/td><td>100\.0%<\/td><td>go\/types\.\(\*Checker\)\.exprInternal<\/td>/);
  assert.doesNotMatch(one, /parseFile/);
  assert.match(two, /parseFile/);
  assert.equal(profiles.htmlFor({ session: 's1', method: 'textDocument/hover', id: 13 }), null);
});

test('a slow request\'s profile in the report says when its stacks stop at the leaf (a binary without frame pointers)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-flame-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'session.jsonl');
  const llvm = { start: 0x7f0000000000n, limit: 0x7f0001000000n, offset: 0n, file: '/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1', buildId: null };
  const w = ProfileWriter.open(log, { hz: 99, session: 's1' });
  w.add([
    { ...sample([], 60), stack: [{ mapping: llvm, address: llvm.start + 0x10n, fn: '_ZN4llvm4SHA19hashBlockEv', file: null, line: null }] },
    { ...sample(['go/types.(*Checker).exprInternal', 'main.main', 'runtime.goexit'], 300), id: 2 },
  ]);
  w.close();
  fs.writeFileSync(log, JSON.stringify({ msg: 'session end', session: 's1', profileFile: path.basename(profileFileFor(log)) }) + '\n');
  const profiles = await RequestProfiles.load([log]);
  assert.match(profiles.htmlFor({ session: 's1', method: 'textDocument/hover', id: 1 }) ?? '', /<p class="profile-note">Stacks stop at the leaf in libLLVM-14\.so\.1 \(100 % of its 6 samples have 1-2 user frames\): built without frame pointers/);
  assert.doesNotMatch(profiles.htmlFor({ session: 's1', method: 'textDocument/hover', id: 2 }) ?? '', /stop at the leaf/);
});

test('a report that read its logs gives the profile files their session end lines named, and they are not read again', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-flame-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The log is gone by now: only the fields read from it (a month of logs is read once) can find the profile.
  const log = path.join(dir, 'gone.jsonl');
  const w = ProfileWriter.open(log, { hz: 99, session: 's1' });
  w.add([{ ...sample(['go/types.(*Checker).exprInternal', 'main.main'], 300), id: 12 }]);
  w.close();
  const profiles = await RequestProfiles.load([log], new Map([[log, [path.basename(profileFileFor(log))]]]));
  assert.match(profiles.htmlFor({ session: 's1', method: 'textDocument/hover', id: 12 }) ?? '', /On CPU 300 ms \(30 samples\)/);
});
