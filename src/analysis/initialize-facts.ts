// What `initialize` says about a session, for `session end` and the report's header: the
// server's name and version (its `serverInfo`), the client's (`clientInfo`) and the
// workspace (rootUri, else the first workspace folder, else rootPath). The framer keeps the
// first bodies of each direction (keepFirstBodies), so this sees them without --bodies;
// they are parsed once, here, and the sink stops looking once both are read.

import { fileURLToPath } from 'node:url';
import type { MessageRecord } from '../model/record';
import type { RecordSink } from '../model/stages';
import { rootOf } from '../model/workspace-root';

export interface NamedVersion { name: string; version: string | null }

export interface InitializeFields {
  server: NamedVersion | null;
  client: NamedVersion | null;
  /** A directory path (from a file: URI) or, for another scheme, the URI itself. */
  workspace: string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function namedVersion(v: unknown): NamedVersion | null {
  if (v === null || typeof v !== 'object') return null;
  const o = v as { name?: unknown; version?: unknown };
  const name = text(o.name);
  return name === null ? null : { name, version: text(o.version) };
}

function parse(body: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

function uriPath(uri: string): string {
  if (!uri.startsWith('file:')) return uri;
  try { return fileURLToPath(uri); } catch { return uri; }
}


export class InitializeFacts implements RecordSink {
  private request = false;
  private response = false;
  readonly fields: InitializeFields = { server: null, client: null, workspace: null };

  add(rec: MessageRecord): void {
    if (rec.method !== 'initialize' || rec.body === null || (this.request && this.response)) return;
    if (rec.kind === 'request' && rec.dir === 'c2s' && !this.request) {
      this.request = true;
      const params = parse(rec.body)?.params;
      if (params !== null && typeof params === 'object' && !Array.isArray(params)) {
        const p = params as Record<string, unknown>;
        this.fields.client = namedVersion(p.clientInfo);
        const root = rootOf(p);
        this.fields.workspace = root === null ? null : uriPath(root);
      }
    } else if (rec.kind === 'response' && rec.dir === 's2c' && !this.response) {
      this.response = true;
      const result = parse(rec.body)?.result as { serverInfo?: unknown } | undefined;
      this.fields.server = namedVersion(result?.serverInfo);
    }
  }
}
