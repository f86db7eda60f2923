// The shipped JSON Schema (schema/lsptap-log.schema.json) against real logs: a gopls session
// on the fixture module, and a session with bad input (through `cat`, which echoes the
// client's bytes back, so both directions see the same malformed frames). Also checks that
// docs/log-format.md (and docs/kernel-timing.md's "Fields") name exactly the schema's fields.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Ajv, { type ValidateFunction } from 'ajv';
import { readDoc, docSection } from './helpers/docs';
import { lsptapBin, repoRoot, readLog, tmpDir } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { runFixtureSession } from './helpers/fixture-session';

const SCHEMA_PATH = path.join(repoRoot, 'schema', 'lsptap-log.schema.json');
type JsonSchema = { properties?: Record<string, unknown>; definitions?: Record<string, JsonSchema>; required?: string[] };
const schema = JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')) as JsonSchema;

function compile(): ValidateFunction {
  return new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);
}

function assertAllValid(validate: ValidateFunction, lines: Record<string, unknown>[], file: string): void {
  lines.forEach((line, i) => {
    const ok = validate(line);
    assert.ok(ok, `${file}:${i + 1} (${String(line.msg)}) does not match the schema: ${JSON.stringify(validate.errors)}\n${JSON.stringify(line)}`);
  });
}

const frame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('every line of a real gopls session log matches the JSON Schema', skipUnless(missingCommand('gopls')), async (t) => {
  const log = path.join(tmpDir(t), 'gopls.jsonl');
  // Profiled, so kernel.profile (and session end's) is checked too where BPF runs.
  const r = await runFixtureSession({ logPath: log, hovers: 4, lsptapArgs: ['--profile-hz', '99'] });
  assert.equal(r.exitCode, 0);
  const lines = readLog(log);
  const kinds = new Set(lines.map((l) => l.msg));
  for (const k of ['session start', 'message', 'summary', 'session end']) assert.ok(kinds.has(k), `log has a ${k} line`);
  assertAllValid(compile(), lines, log);
});

test('bad-input warn lines and an echoed session through cat match the JSON Schema', async (t) => {
  const log = path.join(tmpDir(t), 'cat.jsonl');
  const input = [
    frame('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'),
    'Content-Length: abc\r\n\r\n{}',
    frame('{"jsonrpc":"2.0","id":"x","result":null}'),
    frame('not json at all'),
    frame('{"jsonrpc":"2.0","method":"exit"}'),
  ].join('');
  const child = spawn(process.execPath, [lsptapBin, '--log', log, '--grace-ms', '200', '--', 'cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let echoed = 0;
  child.stdout.on('data', (b: Buffer) => { echoed += b.length; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdin.end(input);
  assert.equal(await exited, 0);
  assert.equal(echoed, Buffer.byteLength(input));
  const lines = readLog(log);
  const msgs = lines.map((l) => l.msg);
  assert.ok(msgs.includes('bad input'), `a bad input line among ${JSON.stringify(msgs)}`);
  assert.ok(msgs.includes('summary'));
  assertAllValid(compile(), lines, log);
});

test('the schema rejects a message line with an unknown field or a wrong direction', () => {
  const validate = compile();
  const good = { level: 30, time: 1, pid: 1, session: 'a', msg: 'message', dir: 'c2s', kind: 'request', method: 'm', id: 1, bytes: 2, headerBytes: 20, offset: 0, firstByteMs: 0, lastByteMs: 0, forwardedMs: 0.1, clock: 'js' };
  assert.ok(validate(good), JSON.stringify(validate.errors));
  assert.ok(validate({ ...good, kernel: { serverCpuUs: 12, toServerPipeUs: null } }), 'kernel parts are integers (µs) or null');
  assert.equal(validate({ ...good, kernel: { serverNapUs: 12 } }), false, 'a kernel part the docs do not define');
  assert.equal(validate({ ...good, clock: 'wall' }), false);
  assert.equal(validate({ ...good, latncyMs: 3 }), false);
  assert.equal(validate({ ...good, dir: 'up' }), false);
  assert.equal(validate({ ...good, kind: 'response' }), false, 'a response needs isError and latencyMs');
  assert.equal(validate({ ...good, kernel: { serverCpuUs: 'fast' } }), false);
});

/** docs/log-format.md, split by its `**`msg: "X"`**` paragraphs ('' is the text before them). */
function logFormatSections(): Map<string, string> {
  const section = readDoc('docs/log-format.md');
  const out = new Map<string, string>();
  const heads = [...section.matchAll(/\*\*`msg: "([^"]+)"`\*\*/g)];
  heads.forEach((h, i) => out.set(h[1], section.slice(h.index, i + 1 < heads.length ? heads[i + 1].index : undefined)));
  out.set('', section.slice(0, heads[0]?.index));
  return out;
}

/** docs/kernel-timing.md's "Fields" section. */
const kernelFields = (): string => docSection(readDoc('docs/kernel-timing.md'), 'Fields');

const backticked = (text: string): Set<string> => new Set([...text.matchAll(/`([A-Za-z][A-Za-z0-9]*)`/g)].map((m) => m[1]));
const COMMON = ['level', 'time', 'pid', 'session', 'msg'];

test("docs/log-format.md names exactly the JSON Schema's fields", () => {
  const sections = logFormatSections();
  const defs = schema.definitions!;
  const own = (def: string): string[] => [...new Set([...Object.keys(defs[def].properties ?? {}), ...(defs[def].required ?? [])])].filter((f) => !COMMON.includes(f));
  for (const f of COMMON) assert.ok(backticked(sections.get('')!).has(f), `docs/log-format.md's intro names the common field ${f}`);
  const byMsg: Record<string, string> = { 'session start': 'sessionStart', message: 'message', 'bad input': 'badInput', summary: 'summary', 'session end': 'sessionEnd' };
  for (const [msg, def] of Object.entries(byMsg)) {
    const text = sections.get(msg);
    assert.ok(text !== undefined, `docs/log-format.md documents msg "${msg}"`);
    const named = backticked(text);
    for (const f of own(def)) assert.ok(named.has(f), `docs/log-format.md's msg "${msg}" paragraph names the schema field ${f}`);
  }
  // The message table's first column is the message line's field list: equal both ways.
  const tableFields = [...sections.get('message')!.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...backticked(m[1])]);
  assert.deepEqual(new Set(tableFields), new Set(own('message')));
  // Summary rows and unanswered entries are described in the session end paragraph and below it.
  const tail = sections.get('session end')!;
  for (const f of Object.keys(defs.summaryRow.properties ?? {})) assert.ok(backticked(tail).has(f), `docs/log-format.md names summary row field ${f}`);
  for (const f of Object.keys(defs.unansweredRequest.properties ?? {})) assert.ok(backticked(tail).has(f), `docs/log-format.md names unanswered field ${f}`);
});

test("docs/kernel-timing.md's field table names exactly the JSON Schema's kernel parts, each bounded by syscalls", () => {
  const section = kernelFields();
  const rows = [...section.matchAll(/^\| `([A-Za-z]+)` \| [^|]+ \| ([^|]+) \|$/gm)];
  const parts = (schema.definitions!.kernelTiming as { properties: Record<string, unknown> }).properties;
  assert.deepEqual(new Set(rows.map((r) => r[1])), new Set(Object.keys(parts)));
  // A window between two syscalls, or a sum over a window named in another row ("same").
  for (const [, field, meaning] of rows) assert.match(meaning, /returned|began|syscalls|window/, `${field}'s meaning names the syscalls that bound it`);
});

test("docs/kernel-timing.md's Fields section names the children's, the fd report's and session end's kernel fields", () => {
  const section = kernelFields();
  const defs = schema.definitions!;
  const tableFields = [...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...backticked(m[1])]);
  assert.deepEqual(new Set(tableFields), new Set(Object.keys(defs.kernelTiming.properties ?? {})));
  const named = backticked(section);
  for (const def of ['kernelChild', 'fdReport', 'kernelEnd']) {
    for (const f of Object.keys(defs[def].properties ?? {})) assert.ok(named.has(f), `docs/kernel-timing.md's Fields section names ${def}.${f}`);
  }
});

test('the schema takes a kernel object with children and a cause, and rejects a child without its pid', () => {
  const validate = compile();
  const response = { level: 30, time: 1, pid: 1, session: 'a', msg: 'message', dir: 's2c', kind: 'response', method: 'm', id: 1, bytes: 2, headerBytes: 20, offset: 0, firstByteMs: 0, lastByteMs: 0, forwardedMs: 0.1, clock: 'kernel', isError: false, latencyMs: 3 };
  const child = { pid: 9, comm: 'go', path: '/usr/bin/go', args: ['go', 'list'], wallUs: 10, cpuUs: 5, exitCode: 0, signal: null };
  assert.ok(validate({ ...response, kernel: { serverBlockedUs: 10, blockedOnChildUs: 10, blockedOtherOn: null, children: [child] } }), JSON.stringify(validate.errors));
  assert.ok(validate({ ...response, kernel: { blockedOtherOn: 'timer', children: null } }), JSON.stringify(validate.errors));
  const { pid: _pid, ...noPid } = child;
  assert.equal(validate({ ...response, kernel: { children: [noPid] } }), false);
});
