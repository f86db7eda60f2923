// The manual, as tests read it: a file of docs/ (or the README, the changelog), its
// sections by heading, and GitHub's anchor for a heading, so that tests which keep the
// manual true (recipes run as written, field lists, option lists, links) share one reader.

import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { repoRoot } from './index';

/** A file of the manual, by its path from the repository root (`docs/editors.md`). */
export function readDoc(relPath: string): string {
  return fs.readFileSync(path.join(repoRoot, relPath), 'utf8');
}

/** The headings of a markdown text, outside fenced code blocks. */
export function headings(text: string): { level: number; title: string; index: number }[] {
  const out: { level: number; title: string; index: number }[] = [];
  let fenced = false;
  let at = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^(#{1,6}) (.+)$/.exec(line);
    if (m !== null) out.push({ level: m[1].length, title: m[2].trim(), index: at });
    at += line.length + 1;
  }
  return out;
}

/**
 * The section under the heading whose title is `title` (exactly, or starting with it),
 * up to the next heading of the same or a higher level.
 */
export function docSection(text: string, title: string): string {
  const all = headings(text);
  const i = all.findIndex((h) => h.title === title || h.title.startsWith(title));
  assert.ok(i >= 0, `a heading "${title}"`);
  const end = all.slice(i + 1).find((h) => h.level <= all[i].level);
  return text.slice(all[i].index, end?.index);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(title: string): string {
  return title.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}
