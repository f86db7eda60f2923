#!/usr/bin/env node
'use strict';
// Writes man/lsptap.1, lsptap(1), from docs/command-line.md: the page a user reads with
// `man lsptap` is the reference the docs hold, and test/docs.test.ts keeps that reference
// equal to every command's --help. Run by `npm run build`; package.json's `man` field
// installs the page with `npm install -g`.
//
// The markdown is the small subset docs/command-line.md uses (headings, paragraphs, lists,
// fenced blocks, two-column tables, `code`, **bold**, [links](x)); translating that subset
// is a few lines, where a markdown library would bring a parser for all of markdown.

const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const source = fs.readFileSync(path.join(root, 'docs', 'command-line.md'), 'utf8');

/** Text as roff reads it: backslashes and hyphens escaped, a leading dot or quote guarded. */
function escape(text) {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
}

/** One line of markdown prose in roff: `code` and **bold** in bold, links as their text. */
function inline(text) {
  let out = '';
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\([^)]*\)/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    out += escape(text.slice(at, m.index));
    if (m[1] !== undefined) out += `\\fB${escape(m[1])}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${inline(m[2])}\\fR`;
    else out += inline(m[3]);
    at = m.index + m[0].length;
  }
  return out + escape(text.slice(at));
}

/** A line of roff text must not start with a control character. */
const guard = (line) => (/^[.']/.test(line) ? `\\&${line}` : line);

const cells = (row) => row.replace(/^\|/, '').replace(/\|$/, '').split(' | ').map((c) => c.trim());

const out = [
  `.TH LSPTAP 1 "" "lsptap ${pkg.version}" "User Commands"`,
  '.SH NAME',
  `lsptap \\- ${escape(pkg.description)}`,
];
const lines = source.split('\n');
let para = [];
const flush = () => { if (para.length > 0) { out.push('.PP', guard(inline(para.join(' ')))); para = []; } };
// The text under the page's title describes lsptap: DESCRIPTION, after the first section
// (the synopsis), as man pages order them.
const title = lines.findIndex((l) => l.startsWith('# '));
const firstSection = lines.findIndex((l) => l.startsWith('## '));
const description = lines.slice(title + 1, firstSection).join(' ').trim();
let sections = 0;
for (let i = firstSection; i < lines.length; i++) {
  const line = lines[i];
  if (line.startsWith('```')) {
    flush();
    out.push('.PP', '.nf', '.RS 2');
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) out.push(guard(escape(lines[i])));
    out.push('.RE', '.fi');
    continue;
  }
  const heading = /^(#{2,3}) (.+)$/.exec(line);
  if (heading !== null) {
    flush();
    if (heading[1] === '##' && ++sections === 2) out.push('.SH DESCRIPTION', '.PP', guard(inline(description)));
    const title = heading[2].replace(/`/g, '');
    out.push(heading[1] === '##' ? `.SH ${escape(title.toUpperCase())}` : `.SS ${escape(title)}`);
    continue;
  }
  if (line.startsWith('|')) {
    flush();
    // header row, separator, then one entry per row: the first cell as the tag.
    for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) {
      const [tag, ...rest] = cells(lines[i]);
      out.push('.TP', guard(inline(tag)), guard(inline(rest.join(' '))));
    }
    i--;
    continue;
  }
  const item = /^- (.+)$/.exec(line);
  if (item !== null) { flush(); out.push('.IP \\(bu 2', guard(inline(item[1]))); continue; }
  if (line.trim() === '') { flush(); continue; }
  para.push(line.trim());
}
flush();
out.push('.SH SEE ALSO',
  "The full manual is in the docs/ directory of lsptap's package (npm root \\-g shows where): " +
  'editors.md (editor recipes), log\\-format.md (every log field), commands.md (report, top, replay, diff, metrics), ' +
  'kernel\\-timing.md, architecture.md, hardening.md, benchmarks.md.');

fs.mkdirSync(path.join(root, 'man'), { recursive: true });
fs.writeFileSync(path.join(root, 'man', 'lsptap.1'), out.join('\n') + '\n');
