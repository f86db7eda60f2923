// Reference implementations the properties compare lsptap against: vscode-jsonrpc's own
// stream reader for frames, JSON.parse for identities, and a harness that runs lsptap's
// Framer over a chunked stream.

import { EventEmitter } from 'node:events';
import type fc from 'fast-check';
import { StreamMessageReader } from 'vscode-jsonrpc/node';
import { Framer } from '../../src/analysis/framer';
import type { Frame, FrameWarning, MessageId } from '../../src/model/frame';

export interface SeenIdentity {
  kind: 'request' | 'response' | 'notification' | 'invalid';
  method: string | null;
  id: MessageId | null;
  isError: boolean;
}

/** What vscode-jsonrpc makes of a stream of chunks: the messages it delivers, in order. */
export async function referenceRead(chunks: Buffer[]): Promise<SeenIdentity[]> {
  const source = new EventEmitter();
  const reader = new StreamMessageReader(source as unknown as NodeJS.ReadableStream);
  reader.partialMessageTimeout = 0;
  const seen: SeenIdentity[] = [];
  const errors: Error[] = [];
  reader.onError((e) => errors.push(e));
  reader.listen((m) => {
    const o = m as unknown as Record<string, unknown>;
    if ('method' in o) {
      const isRequest = 'id' in o;
      seen.push({ kind: isRequest ? 'request' : 'notification', method: o.method as string, id: isRequest ? (o.id as MessageId) : null, isError: false });
    } else {
      seen.push({ kind: 'response', method: null, id: (o.id as MessageId | null) ?? null, isError: 'error' in o });
    }
  });
  for (const c of chunks) source.emit('data', c);
  // The reader decodes each body behind an async lock: let those promise chains settle.
  await new Promise((r) => setImmediate(r));
  reader.dispose();
  if (errors.length > 0) throw errors[0];
  return seen;
}

export interface FramerRun {
  frames: Frame[];
  warnings: FrameWarning[];
}

/** Run lsptap's framer over chunks. `scribble` overwrites each chunk after push(), proving none is kept. */
export function framerRead(chunks: Buffer[], opts: { retainBodyMax?: number; scribble?: boolean } = {}): FramerRun {
  const frames: Frame[] = [];
  const warnings: FrameWarning[] = [];
  const f = new Framer({ dir: 'c2s', retainBodyMax: opts.retainBodyMax ?? 0, onFrame: (x) => frames.push(x), onWarning: (w) => warnings.push(w) });
  for (const c of chunks) {
    f.push(c, 0n, 0n);
    if (opts.scribble === true) c.fill(0x7a);
  }
  f.end();
  return { frames, warnings };
}

/** A frame without its timestamps and body, for comparing runs. */
export function shape(f: Frame): string {
  const i = f.identity;
  return JSON.stringify([f.offset, f.headerBytes, f.bodyBytes, i.kind, i.method, i.id, i.isError, i.cancelId, i.invalidReason]);
}

export function identityOf(f: Frame): SeenIdentity {
  return { kind: f.identity.kind, method: f.identity.method, id: f.identity.id, isError: f.identity.isError };
}

/**
 * fast-check parameters for the suite: a printed seed (LSPTAP_SEED replays one), a run
 * count, and a wall-clock cap so each property stays within a few seconds on a busy machine.
 */
export function propertyParams(t: { diagnostic: (m: string) => void }, numRuns: number, timeLimitMs = 4000): fc.Parameters<unknown> {
  const seed = process.env.LSPTAP_SEED !== undefined ? Number(process.env.LSPTAP_SEED) : (Date.now() % 2 ** 31);
  t.diagnostic(`fast-check seed ${seed} (replay: LSPTAP_SEED=${seed} npm test)`);
  return { seed, numRuns, interruptAfterTimeLimit: timeLimitMs, includeErrorInReport: true };
}

/** The identity JSON.parse gives a valid JSON-RPC body (the oracle for the scanner). */
export function parsedIdentity(body: Buffer | string): SeenIdentity {
  const o = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as Record<string, unknown>;
  const isId = (v: unknown): v is MessageId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if ('method' in o) {
    if (typeof o.method !== 'string') return { kind: 'invalid', method: null, id: null, isError: false };
    if (!('id' in o)) return { kind: 'notification', method: o.method, id: null, isError: false };
    return isId(o.id) ? { kind: 'request', method: o.method, id: o.id, isError: false } : { kind: 'invalid', method: o.method, id: null, isError: false };
  }
  if ('id' in o && ('result' in o || 'error' in o)) {
    if (o.id !== null && !isId(o.id)) return { kind: 'invalid', method: null, id: null, isError: false };
    return { kind: 'response', method: null, id: (o.id), isError: 'error' in o };
  }
  return { kind: 'invalid', method: null, id: null, isError: false };
}
