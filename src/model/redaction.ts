// Redaction for what a user attaches to a public bug (`lsptap report --redact`, and the
// same for --trace and, later, profile files): every path or file: URI under a workspace
// or a home directory becomes a stable placeholder, so a reader still sees that two
// requests touched the same file without learning its name.
//
// API (one Redactor per output, so placeholders are numbered in one sequence):
//   const r = new Redactor(redactionRoots({ workspaces: ['/src/app'], home: os.homedir() }));
//   r.text('open /src/app/x/y.go')      -> 'open <workspace>/a1.go'
//   r.text('file:///src/app/x/y.go')   -> '<workspace>/a1.go' (a URI and its path: one placeholder)
//   r.text('/home/ann/go/bin/gopls')    -> '<home>/h1' (any /home/NAME, /Users/NAME, /root too)
//   r.value(obj)                        -> a deep copy with every string (and key) through text()
//   r.removed()                         -> sentences for the top of the output: what was replaced
// The workspace itself becomes `<workspace>` and a home `<home>`; a file keeps its extension
// (`.go` tells a gopls maintainer something, its name may not be public). Bodies are not the
// redactor's business: an output that redacts leaves them out (and says so).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RedactionRoots {
  /** Directories whose contents are the user's project, longest first. */
  workspaces: string[];
  /** Home directories (this user's and the generic /home/NAME, /Users/NAME, /root forms). */
  homes: string[];
}

/** Generic home forms, matched whoever the user is. */
const HOME_PATTERN = /^(\/home\/[^/\s"'<>]+|\/Users\/[^/\s"'<>]+|\/root)(?=\/|$)/;

/**
 * The roots to redact: each workspace and its real path (a symlinked GOROOT has two names),
 * and the home directory given; paths that are `/` or empty are ignored.
 */
export function redactionRoots(opts: { workspaces: Array<string | null>; home: string | null }): RedactionRoots {
  const expand = (dirs: Array<string | null>): string[] => {
    const out = new Set<string>();
    for (const d of dirs) {
      if (d === null || d === '' || d === '/') continue;
      const clean = d.replace(/\/+$/, '');
      out.add(clean);
      try { out.add(fs.realpathSync(clean)); } catch { /* not on this machine */ }
    }
    return [...out].filter((d) => d !== '' && d !== '/').sort((a, b) => b.length - a.length);
  };
  return { workspaces: expand(opts.workspaces), homes: expand([opts.home]) };
}

/** Characters that end a path inside free text (arguments, sentences, JSON-ish strings). */
const PATH_END = /[\s"'<>`,;)\]}|]/;

export class Redactor {
  private readonly placeholders = new Map<string, string>();
  private readonly counts = { workspace: 0, home: 0 };
  /** Every root as a path prefix and as a file: URI prefix (percent-encoded). */
  private readonly prefixes: Array<{ prefix: string; root: string; kind: 'workspace' | 'home' }> = [];

  constructor(roots: RedactionRoots) {
    for (const [kind, list] of [['workspace', roots.workspaces], ['home', roots.homes]] as const) {
      for (const root of list) {
        this.prefixes.push({ prefix: root, root, kind });
        this.prefixes.push({ prefix: `file://${encodeURI(root)}`, root, kind });
      }
    }
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** s with every path or file: URI under a root (or a generic home) replaced. */
  text(s: string): string {
    if (s.indexOf('/') < 0) return s;
    let out = '';
    let i = 0;
    while (i < s.length) {
      const j = this.nextCandidate(s, i);
      if (j < 0) break;
      const m = this.matchAt(s, j);
      if (m === null) { out += s.slice(i, j + 1); i = j + 1; continue; }
      out += s.slice(i, j) + m.replacement;
      i = m.end;
    }
    return out + s.slice(i);
  }

  /** A deep copy of v with every string, and every object key, through text(). */
  value<T>(v: T): T {
    if (typeof v === 'string') return this.text(v) as T;
    if (Array.isArray(v)) return v.map((x: unknown) => this.value(x)) as T;
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[this.text(k)] = this.value(x);
      return out as T;
    }
    return v;
  }

  /** What was replaced, for the top of the output. */
  removed(): string[] {
    const out = [`message bodies left out`];
    out.push(`${this.counts.workspace} path(s) under the workspace replaced by <workspace>/aN (the workspace itself by <workspace>)`);
    out.push(`${this.counts.home} path(s) under a home directory replaced by <home>/hN`);
    return out;
  }

  /** Where the next `/` or `file:` that could start a path is, at or after i. */
  private nextCandidate(s: string, i: number): number {
    for (let j = i; j < s.length; j++) {
      const c = s[j];
      if ((c === '/' || (c === 'f' && s.startsWith('file://', j))) && (j === 0 || !/[\w.~-]/.test(s[j - 1]) || s[j - 1] === '=')) return j;
    }
    return -1;
  }

  private matchAt(s: string, j: number): { replacement: string; end: number } | null {
    // A root may hold spaces (`/src/my app`): match it whole, then the rest up to a delimiter.
    for (const p of this.prefixes) {
      if (!s.startsWith(p.prefix, j)) continue;
      const after = j + p.prefix.length;
      if (after < s.length && s[after] !== '/' && !PATH_END.test(s[after])) continue;
      const end = pathEnd(s, after);
      const token = s.slice(j, end);
      const asPath = token.startsWith('file://') ? uriPath(token) ?? token : token;
      return { replacement: this.placeholder(p.kind, p.root, asPath.replace(/\/+$/, '') || p.root), end };
    }
    const end = pathEnd(s, j);
    const token = s.slice(j, end);
    const asPath = token.startsWith('file://') ? uriPath(token) : token;
    if (asPath === null) return null;
    const home = HOME_PATTERN.exec(asPath);
    return home === null ? null : { replacement: this.placeholder('home', home[1], asPath), end };
  }

  private placeholder(kind: 'workspace' | 'home', root: string, p: string): string {
    const base = kind === 'workspace' ? '<workspace>' : '<home>';
    if (p === root) return base;
    const key = `${kind}\u0000${p}`;
    let name = this.placeholders.get(key);
    if (name === undefined) {
      const n = ++this.counts[kind];
      name = `${base}/${kind === 'workspace' ? 'a' : 'h'}${n}${extensionOf(p)}`;
      this.placeholders.set(key, name);
    }
    return name;
  }
}

function pathEnd(s: string, from: number): number {
  let end = from;
  while (end < s.length && !PATH_END.test(s[end])) end++;
  return end;
}

/** A short, plain extension (`.go`, `.mod`) or ''. */
function extensionOf(p: string): string {
  const ext = path.posix.extname(p);
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext : '';
}

function uriPath(uri: string): string | null {
  try { return fileURLToPath(uri); } catch { return null; }
}
