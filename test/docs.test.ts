// The manual stays true: every relative link in the README, the changelog and docs/ leads to
// a file (and heading) that exists; every option a command's --help prints is documented
// under that command in docs/command-line.md, and every option documented there is one the
// command takes; code comments that point into the manual point at a section that exists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lsptapBin, repoRoot } from './helpers/index';
import { anchorOf, docSection, headings, readDoc } from './helpers/docs';

const MANUAL = ['README.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The targets of markdown links and images in `text`, outside fenced code blocks. */
function linkTargets(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) { fenced = !fenced; continue; }
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1]);
  }
  return out;
}

/** Every anchor GitHub gives the headings of a markdown file (repeats get -1, -2...). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(text)) {
    const a = anchorOf(h.title);
    const n = seen.get(a) ?? 0;
    seen.set(a, n + 1);
    out.add(n === 0 ? a : `${a}-${n}`);
  }
  return out;
}

test('the manual is a short README with its reference in docs/', () => {
  const lines = readDoc('README.md').split('\n').length;
  assert.ok(lines <= 250, `README.md has ${lines} lines`);
  for (const f of ['editors', 'command-line', 'log-format', 'commands', 'kernel-timing', 'architecture', 'hardening', 'benchmarks']) {
    assert.ok(MANUAL.includes(`docs/${f}.md`), `docs/${f}.md exists`);
    assert.ok(readDoc('README.md').includes(`](docs/${f}.md)`), `the README links docs/${f}.md`);
  }
});

test('every relative link in the README, the changelog and docs/ resolves, anchors included', () => {
  const broken: string[] = [];
  for (const file of MANUAL) {
    for (const target of linkTargets(readDoc(file))) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [rel, anchor] = target.split('#', 2);
      const dest = rel === '' ? file : path.normalize(path.join(path.dirname(file), rel));
      if (!fs.existsSync(path.join(repoRoot, dest))) { broken.push(`${file}: ${target} (no ${dest})`); continue; }
      if (anchor !== undefined && !anchors(readDoc(dest)).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${dest})`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the benchmark figures sit between the markers npm run bench writes between', () => {
  const doc = readDoc('docs/benchmarks.md');
  const start = doc.indexOf('<!-- bench-table:start -->');
  const end = doc.indexOf('<!-- bench-table:end -->');
  assert.ok(start >= 0 && end > start, 'one bench-table:start, then one bench-table:end');
  assert.match(doc.slice(start, end), /Measured \d{4}-\d\d-\d\d/, 'the table says when it was measured');
});

/** `--name`s of an option list: lines of a --help text that start with an option. */
function helpOptions(help: string): Set<string> {
  return new Set([...help.matchAll(/^ {2}(--[a-z][a-z-]*)/gm)].map((m) => m[1]));
}

/** `--name`s in the first column of the option tables of one command's section of docs/command-line.md. */
function documentedOptions(command: string): Set<string> {
  const title = command === '' ? '`lsptap` (the proxy)' : `\`lsptap ${command}`;
  const section = docSection(readDoc('docs/command-line.md'), title);
  return new Set([...section.matchAll(/^\| `(--[a-z][a-z-]*)/gm)].map((m) => m[1]));
}

/** '' (lsptap itself) and every subcommand `lsptap --help` lists. */
const COMMANDS = ['', ...new Set([...spawnSync(process.execPath, [lsptapBin, '--help'], { encoding: 'utf8' }).stdout.matchAll(/^(?:usage:| ) +lsptap ([a-z][a-z-]*)\b/gm)].map((m) => m[1]))];

for (const command of COMMANDS) {
  const name = command === '' ? 'lsptap' : `lsptap ${command}`;
  test(`every option \`${name} --help\` prints is in docs/command-line.md under ${name}, and no other`, () => {
    const run = spawnSync(process.execPath, [lsptapBin, ...(command === '' ? [] : [command]), '--help'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const printed = helpOptions(run.stdout);
    assert.ok(printed.has('--help'), `${name} --help lists its options:\n${run.stdout}`);
    assert.deepEqual([...documentedOptions(command)].sort(), [...printed].sort());
  });
}

/** Files holding code, whose comments may point into the manual. */
function codeFiles(dir: string): string[] {
  return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|c|h|sh|el|lua)$/.test(e.name))
    .map((e) => path.relative(repoRoot, path.join(e.parentPath, e.name)));
}

test('code that points into the manual points at a file and section that exist', () => {
  const wrong: string[] = [];
  const files = ['src', 'bench', 'scripts', 'test', 'bin', 'bpf'].flatMap((d) => (fs.existsSync(path.join(repoRoot, d)) ? codeFiles(d) : []));
  for (const file of files) {
    if (file === 'test/docs.test.ts') continue;
    const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
    for (const m of text.matchAll(/\b(README|docs\/[a-z-]+\.md|CHANGELOG)(?:\.md)?(?: "([^"]+)")?/g)) {
      const doc = m[1] === 'README' ? 'README.md' : m[1] === 'CHANGELOG' ? 'CHANGELOG.md' : m[1];
      if (!fs.existsSync(path.join(repoRoot, doc))) { wrong.push(`${file}: ${m[0]} (no ${doc})`); continue; }
      if (m[2] === undefined) continue;
      const titles = headings(readDoc(doc)).map((h) => h.title.toLowerCase());
      if (!titles.some((t) => t.includes(m[2].toLowerCase()))) wrong.push(`${file}: ${m[0]} (no heading "${m[2]}" in ${doc})`);
    }
  }
  assert.deepEqual(wrong, []);
});
