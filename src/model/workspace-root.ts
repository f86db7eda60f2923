// The workspace an initialize request names, read by replay (to move it) and by the
// analysis thread (for `session end`'s workspace).

import { pathToFileURL } from 'node:url';

/** The workspace root an initialize request names: rootUri, else the first folder, else rootPath. */
export function rootOf(initializeParams: unknown): string | null {
  if (initializeParams === null || typeof initializeParams !== 'object') return null;
  const p = initializeParams as { rootUri?: unknown; rootPath?: unknown; workspaceFolders?: unknown };
  if (typeof p.rootUri === 'string') return p.rootUri;
  if (Array.isArray(p.workspaceFolders)) {
    const first: unknown = p.workspaceFolders[0];
    if (first !== null && typeof first === 'object' && typeof (first as { uri?: unknown }).uri === 'string') return (first as { uri: string }).uri;
  }
  if (typeof p.rootPath === 'string') return pathToFileURL(p.rootPath).href;
  return null;
}
