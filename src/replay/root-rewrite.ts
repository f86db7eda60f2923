// `--root DIR`: the recorded workspace root becomes DIR in every message sent, so a session
// recorded on one machine replays on another. Whole string values are rewritten when they
// are the old root or under it, as a file:// URI or as a plain path (rootPath, settings);
// text inside longer strings (a didOpen's source, markdown) is left as recorded.

import { pathToFileURL, fileURLToPath } from 'node:url';

export class RootRewrite {
  private readonly fromUri: string;
  private readonly toUri: string;
  private readonly fromPath: string;
  private readonly toPath: string;

  constructor(fromRootUri: string, toDir: string) {
    this.fromUri = fromRootUri.replace(/\/+$/, '');
    this.toUri = pathToFileURL(toDir).href.replace(/\/+$/, '');
    this.fromPath = fileURLToPath(this.fromUri);
    this.toPath = fileURLToPath(this.toUri);
  }

  /** A copy of `value` with every string under the old root moved under the new one. */
  apply(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (Array.isArray(value)) return value.map((v) => this.apply(v));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.apply(v);
      return out;
    }
    return value;
  }

  private string(s: string): string {
    const under = (root: string): boolean => s === root || s.startsWith(`${root}/`);
    if (under(this.fromUri)) return this.toUri + s.slice(this.fromUri.length);
    if (under(this.fromPath)) return this.toPath + s.slice(this.fromPath.length);
    return s;
  }
}

export { rootOf } from '../model/workspace-root';
