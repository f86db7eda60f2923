// fast-check generators for the framer and identity properties and for `npm run fuzz`.
// Bodies are written as raw JSON text (not JSON.stringify) so they hold what real peers
// send and JSON.stringify never does: whitespace anywhere, numbers in exponent form,
// escaped keys and quotes, \u escapes, raw unicode, and `id` after a huge params/result.

import fc from 'fast-check';

const ws = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n  ');

/** A JSON number as text, including exponent form (1.5E+3, -0e0, 7e-2). */
export const numberText: fc.Arbitrary<string> = fc.tuple(
  fc.constantFrom('', '-'),
  fc.oneof(fc.constant('0'), fc.integer({ min: 1, max: 2 ** 31 }).map(String)),
  fc.option(fc.nat({ max: 99999 }).map((n) => `.${n}`), { nil: '' }),
  fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat({ max: 30 })).map(([e, s, n]) => `${e}${s}${n}`), { nil: '' }),
).map(([sign, int, frac, exp]) => `${sign}${int}${frac}${exp}`);

const escapePiece = fc.constantFrom('\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u00e9', '\\u0022', '\\u005c', '\\ud83d\\ude00', '\\u0000');
const rawPiece = fc.constantFrom('é', '中', '😀', '}', ']', '{', '[', ',', ':', '"id":', 'Content-Length', '\\');

/** The inside of a JSON string literal (without its quotes), valid JSON. */
export const stringBody: fc.Arbitrary<string> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => JSON.stringify(s).slice(1, -1)) },
    { weight: 2, arbitrary: escapePiece },
    { weight: 2, arbitrary: rawPiece.map((s) => JSON.stringify(s).slice(1, -1)) },
  ),
  { maxLength: 6 },
).map((parts) => parts.join(''));

export const stringText: fc.Arbitrary<string> = stringBody.map((s) => `"${s}"`);

/** Any JSON value as text, nested arrays and objects included. */
export const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string; arr: string; obj: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText, stringText, fc.constantFrom('true', 'false', 'null'), tie('arr'), tie('obj'),
  ),
  arr: fc.array(fc.tuple(ws, tie('value'), ws), { maxLength: 4 }).map((xs) => `[${xs.map((x) => x.join('')).join(',')}]`),
  obj: fc.array(fc.tuple(ws, stringText, ws, ws, tie('value'), ws), { maxLength: 4 })
    .map((xs) => `{${xs.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}`),
})).value;

/** A large string value (tens of KiB) so the body takes the streaming scanner's path. */
const hugeText: fc.Arbitrary<string> = fc.tuple(stringBody, fc.integer({ min: 20, max: 600 }))
  .map(([s, n]) => `"${(s.length === 0 ? 'package main\\n' : s).repeat(Math.ceil((n * 64) / Math.max(1, s.length || 14)))}"`);

/** The spelling of a key: plain, or (rarely) with \u escapes that JSON.parse decodes. */
function keyText(name: string): fc.Arbitrary<string> {
  const escaped = `"${[...name].map((c, i) => (i === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')}"`;
  return fc.oneof({ weight: 9, arbitrary: fc.constant(`"${name}"`) }, { weight: 1, arbitrary: fc.constant(escaped) });
}

export const idText: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map(String),
  numberText,
  stringText,
);

/** One member of the top-level object, as text. */
const member = (name: string, value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(ws, keyText(name), ws, ws, value, ws).map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`);

const methodText = fc.oneof(
  fc.constantFrom('"textDocument/hover"', '"initialized"', '"$/cancelRequest"', '"workspace/configuration"', '"textDocument/didChange"'),
  stringText,
);

export type BodyKind = 'request' | 'notification' | 'result' | 'error';

export interface BodyOptions {
  /** Chance (0..1) that params/result is a huge string, pushing the body past 16 KiB. */
  hugeChance: number;
}

/** A valid JSON-RPC body (request, notification or response) with members in any order. */
export function rpcBodyText(opts: BodyOptions = { hugeChance: 0.1 }): fc.Arbitrary<string> {
  const payload = fc.oneof(
    { weight: Math.round((1 - opts.hugeChance) * 100), arbitrary: valueText },
    { weight: Math.max(0, Math.round(opts.hugeChance * 100)), arbitrary: hugeText },
  );
  const extras = fc.array(fc.tuple(fc.string({ maxLength: 6 }).filter((k) => !['id', 'method', 'result', 'error', 'params'].includes(k)), valueText), { maxLength: 2 })
    .map((xs) => xs.map(([k, v]) => `${JSON.stringify(k)}:${v}`));
  const kind = fc.constantFrom<BodyKind>('request', 'notification', 'result', 'error');
  return fc.tuple(kind, idText, methodText, payload, extras, fc.boolean(), ws, ws).chain(([k, id, method, p, ex, withJsonrpc, pre, post]) => {
    const members: fc.Arbitrary<string>[] = [];
    if (withJsonrpc) members.push(fc.constant('"jsonrpc":"2.0"'));
    for (const e of ex) members.push(fc.constant(e));
    if (k === 'request' || k === 'notification') {
      members.push(member('method', fc.constant(method)));
      if (k === 'request') members.push(member('id', fc.constant(id)));
      members.push(member('params', fc.constant(p)));
    } else {
      members.push(member('id', fc.oneof({ weight: 19, arbitrary: fc.constant(id) }, { weight: 1, arbitrary: fc.constant('null') })));
      members.push(k === 'result' ? member('result', fc.constant(p)) : member('error', fc.constant(`{"code":-32800,"message":${JSON.stringify('cancelled')},"data":${p}}`)));
    }
    // Shuffle the members: Go's jsonrpc2 writes id last, after a huge params/result.
    return fc.tuple(...members).chain((ms) => fc.shuffledSubarray(ms, { minLength: ms.length, maxLength: ms.length }))
      .map((ms) => `${pre}{${ms.join(',')}}${post}`);
  });
}

/** A header for a body of `length` bytes, as vscode-jsonrpc accepts it. */
export const headerFor: fc.Arbitrary<(length: number) => string> = fc.tuple(
  fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH', 'Content-length'),
  fc.constantFrom(': ', ':', ':  '),
  fc.constantFrom('', ' '),
  fc.constantFrom('none', 'before', 'after'),
).map(([key, sep, trail, ct]) => (length: number) => {
  const cl = `${key}${sep}${length}${trail}`;
  const type = 'Content-Type: application/vscode-jsonrpc; charset=utf-8';
  const lines = ct === 'before' ? [type, cl] : ct === 'after' ? [cl, type] : [cl];
  return `${lines.join('\r\n')}\r\n\r\n`;
});

export interface FramedMessage {
  header: Buffer;
  body: Buffer;
}

/** A stream of valid frames. */
export function validFrames(opts: { maxFrames: number; hugeChance: number; plainHeaders?: boolean }): fc.Arbitrary<FramedMessage[]> {
  const header = opts.plainHeaders === true ? fc.constant((n: number) => `Content-Length: ${n}\r\n\r\n`) : headerFor;
  return fc.array(fc.tuple(header, rpcBodyText({ hugeChance: opts.hugeChance })), { minLength: 1, maxLength: opts.maxFrames })
    .map((xs) => xs.map(([h, b]) => {
      const body = Buffer.from(b, 'utf8');
      return { header: Buffer.from(h(body.length), 'latin1'), body };
    }));
}

export function concatFrames(frames: FramedMessage[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => [f.header, f.body]));
}

/** Cut points for a stream of `length` bytes: sorted, unique, inside (0, length). */
export function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: 24 }).map((xs) => xs.sort((a, b) => a - b));
}

/** Split a buffer at the given cut points. */
export function split(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    if (c > prev) out.push(buf.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Byte soup biased towards framing: header fragments, CRLFs, digits, valid frames, noise. */
export const noisyStream: fc.Arbitrary<Buffer> = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    fc.constantFrom('Content-Length: ', 'content-length:', 'Content-Length: 5', '\r\n', '\r\n\r\n', '\r', '\n', ':', '{', '}', '"', '\\', '99999999', '0', '12', 'Content-Type: x\r\n')
      .map((s) => Buffer.from(s, 'latin1')),
    validFrames({ maxFrames: 2, hugeChance: 0 }).map(concatFrames),
    rpcBodyText({ hugeChance: 0 }).map((b) => Buffer.from(b, 'utf8')),
  ),
  { maxLength: 12 },
).map((parts) => Buffer.concat(parts));

/** How a stream was damaged, and what the framer must make of it (docs/architecture.md "Decisions": resynchronisation). */
export interface Damage {
  kind: 'garbage' | 'bad-length' | 'long' | 'short';
  /** The damaged stream. */
  stream: Buffer;
  /** Offset the single warning must name. */
  warningOffset: number;
  /** Offsets of every frame the framer must still report, and which of them is the invalid one. */
  frames: { offset: number; body: Buffer | null }[];
}

const hasPattern = (b: Buffer): boolean => b.toString('latin1').toLowerCase().includes('content-length');

/**
 * Valid frames (plain headers, bodies up to 16 KiB that do not mention content-length) with
 * one frame damaged: garbage before it, a non-numeric length, a length too long (swallowing
 * part of what follows) or too short (cutting into the JSON).
 */
export const damagedStream: fc.Arbitrary<Damage> = validFrames({ maxFrames: 6, hugeChance: 0, plainHeaders: true })
  .filter((fs) => fs.length >= 2 && fs.every((f) => !hasPattern(f.body) && f.body.length <= 16 * 1024))
  .chain((fs) => fc.tuple(
    fc.constant(fs),
    fc.nat({ max: fs.length - 2 }),
    fc.constantFrom<Damage['kind']>('garbage', 'bad-length', 'long', 'short'),
    fc.uint8Array({ minLength: 1, maxLength: 100 }).map((a) => Buffer.from(a.filter((c) => c !== 0x3a && c !== 0x0d && c !== 0x0a).map((c) => c))),
    fc.constantFrom('12a', '', '-5', 'abc', '0x10', '1 2', '+3'),
    fc.double({ min: 0, max: 1, noNaN: true }),
  ))
  .map(([fs, k, kindWanted, garbage, badValue, frac]) => {
    // Garbage that filtered down to nothing becomes a bad length instead.
    const kind = kindWanted === 'garbage' && garbage.length === 0 ? 'bad-length' : kindWanted;
    const parts: Buffer[] = [];
    const frames: Damage['frames'] = [];
    let pos = 0;
    let warningOffset = 0;
    const rest = fs.slice(k + 1).reduce((n, f) => n + f.header.length + f.body.length, 0);
    for (let i = 0; i < fs.length; i++) {
      let { header } = fs[i];
      const { body } = fs[i];
      // What the framer must report here: the frame as sent, an invalid frame, or nothing.
      let report: 'valid' | 'invalid' | 'none' = 'valid';
      if (i === k) {
        warningOffset = pos;
        if (kind === 'garbage') {
          parts.push(garbage);
          pos += garbage.length;
        } else if (kind === 'bad-length') {
          header = Buffer.from(`Content-Length: ${badValue}\r\n\r\n`, 'latin1');
          report = 'none';
        } else if (kind === 'long') {
          const delta = 1 + Math.floor(frac * Math.min(rest - 1, 16 * 1024 - body.length));
          header = Buffer.from(`Content-Length: ${body.length + delta}\r\n\r\n`, 'latin1');
          report = 'invalid';
        } else {
          // Cut into the JSON itself: dropping only trailing whitespace leaves valid JSON.
          const text = body.toString('latin1');
          const trailing = text.length - text.trimEnd().length;
          const maxDelta = body.length - 1;
          const minDelta = Math.min(trailing + 1, maxDelta);
          const delta = minDelta + Math.floor(frac * (maxDelta - minDelta));
          header = Buffer.from(`Content-Length: ${body.length - delta}\r\n\r\n`, 'latin1');
          report = 'invalid';
        }
      }
      if (report !== 'none') frames.push({ offset: pos, body: report === 'valid' ? body : null });
      parts.push(header, body);
      pos += header.length + body.length;
    }
    return { kind, stream: Buffer.concat(parts), warningOffset, frames };
  });
