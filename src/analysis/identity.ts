// Turns what a body says about itself (top-level id/method/result/error) into an Identity.
// Two ways in: a full JSON.parse for small bodies, and the streaming scanner for large ones;
// both end in classify() so the rules live in one place.

import { isUtf8 } from 'node:buffer';
import type { Identity, MessageId } from '../model/frame';

/** What the top level of a JSON-RPC object holds, as far as identity goes. */
export interface TopLevelFields {
  hasMethod: boolean;
  method: unknown;
  hasId: boolean;
  id: unknown;
  hasResult: boolean;
  hasError: boolean;
  cancelId: unknown;
}

function invalid(reason: string): Identity {
  return { kind: 'invalid', method: null, id: null, isError: false, cancelId: null, invalidReason: reason };
}

function isId(v: unknown): v is MessageId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** JSON-RPC 2.0 rules, lenient where vscode-jsonrpc is (no `jsonrpc` check). */
export function classify(f: TopLevelFields): Identity {
  if (f.hasMethod) {
    if (typeof f.method !== 'string') return invalid('"method" is not a string');
    if (!f.hasId) {
      const cancelId = f.method === '$/cancelRequest' && isId(f.cancelId) ? f.cancelId : null;
      return { kind: 'notification', method: f.method, id: null, isError: false, cancelId, invalidReason: null };
    }
    if (!isId(f.id)) return { ...invalid('request "id" is not a number or string'), method: f.method };
    return { kind: 'request', method: f.method, id: f.id, isError: false, cancelId: null, invalidReason: null };
  }
  if (f.hasId && (f.hasResult || f.hasError)) {
    if (f.id !== null && !isId(f.id)) return invalid('response "id" is not a number, string or null');
    return {
      kind: 'response', method: null, id: f.id === null ? null : (f.id),
      isError: f.hasError, cancelId: null, invalidReason: null,
    };
  }
  return invalid('JSON but not a JSON-RPC message (no "method", and no "id" with "result" or "error")');
}

const NOT_AN_OBJECT = 'JSON but not a JSON-RPC message (top level is not an object)';

/**
 * Identity of a complete small body by JSON.parse. Exact: it also rejects every JSON
 * grammar error and non-UTF-8 bytes. Returns the parsed value too, for --bodies.
 */
export function identifyParsed(body: Buffer): { identity: Identity; parsed: unknown } {
  // JSON first, then UTF-8: a body that is not JSON means a wrong Content-Length (framing is
  // lost, the framer resyncs), even when the wrong length also cut a character in half.
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { identity: invalid(`body is not JSON: ${(err as Error).message}`), parsed: undefined };
  }
  if (!isUtf8(body)) return { identity: invalid('body is not valid UTF-8'), parsed: undefined };
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { identity: invalid(NOT_AN_OBJECT), parsed };
  }
  const o = parsed as Record<string, unknown>;
  const params = o.params;
  const cancelId = params !== null && typeof params === 'object' ? (params as Record<string, unknown>).id : undefined;
  const identity = classify({
    hasMethod: 'method' in o, method: o.method,
    hasId: 'id' in o, id: o.id,
    hasResult: 'result' in o, hasError: 'error' in o,
    cancelId,
  });
  return { identity, parsed };
}

export { invalid as invalidIdentity };
