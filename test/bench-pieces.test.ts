// The benchmark's own pieces work: the echo server answers, the plain relay and the
// splice floor are byte-transparent, and a quick run reports every mode as valid JSON.
// Timing budgets are the benchmark's business, never asserted here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EchoClient, smallRequest, didOpenOf } from '../bench/echo-client';
import { ECHO_SERVER, GOPLS_ONLY_MODES, MODE_NAMES, REPO_ROOT, buildSpliceRelay, type ModeName } from '../bench/modes';
import { ringFigures } from '../bench/kernel-events';
import { formatDocsTable, writeDocsTable } from '../bench/docs-table';
import { firstAnswerMs, oneFileModule } from '../bench/first-answer';
import { readLog, tmpDir } from './helpers/index';
import { bpfSkipReason, startSession, endSession } from './helpers/kernel';

const PLAIN_RELAY = path.join(REPO_ROOT, 'dist', 'bench', 'plain-relay.js');

/** Push `input` through `command` (which runs `cat` behind it) and return what came out. */
function through(command: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command.join(' ')} exited ${code}`))));
    // Write in uneven pieces so chunk boundaries fall anywhere.
    let at = 0;
    let size = 1;
    while (at < input.length) { child.stdin.write(input.subarray(at, at + size)); at += size; size = (size * 7 + 13) % 200_003; }
    child.stdin.end();
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('the echo server answers a request with its params and a didOpen with diagnostics', async (t) => {
  const client = new EchoClient(ECHO_SERVER);
  t.after(() => client.kill());
  await client.request(7, smallRequest(7));
  assert.equal(client.responses, 1);
  const received = await client.notifyAndAwaitNotification(didOpenOf(200_000));
  assert.ok(received > 0, 'publishDiagnostics came back');
  await client.close();
});

test('the plain relay passes 3 MB of random bytes through unchanged', async () => {
  const input = randomBytes(3 << 20);
  const out = await through([process.execPath, PLAIN_RELAY, 'cat'], input);
  assert.equal(out.length, input.length);
  assert.equal(sha(out), sha(input));
});

test('the splice floor passes 3 MB of random bytes through unchanged', async () => {
  const input = randomBytes(3 << 20);
  const out = await through([buildSpliceRelay(), 'cat'], input);
  assert.equal(out.length, input.length);
  assert.equal(sha(out), sha(input));
});

test('the relays pass the server\'s exit code through', async () => {
  for (const relay of [[process.execPath, PLAIN_RELAY], [buildSpliceRelay()]]) {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(relay[0], [...relay.slice(1), 'sh', '-c', 'exit 3'], { stdio: ['pipe', 'pipe', 'inherit'] });
      child.stdin.end();
      child.once('exit', (c) => resolve(c));
    });
    assert.equal(code, 3, `${relay.join(' ')} exit code`);
  }
});

test('a quick benchmark run reports every mode and the budget lines as JSON', { timeout: 120_000 }, async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', 'run.js'), '--quick', '--json', '--only', 'latency,throughput,large'],
      { maxBuffer: 16 << 20 }, (err, out) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(out)));
  });
  const doc = JSON.parse(stdout) as {
    modes: { name: string; available: boolean; reason: string | null }[];
    results: { workload: string; metric: string; modes: Record<string, { median: number }> }[];
    budgets: { budget: string; verdict: string }[];
  };
  assert.deepEqual(doc.modes.map((m) => m.name), MODE_NAMES);
  for (const m of doc.modes) if (!m.available) assert.ok(m.reason, `${m.name} says why it is not available`);
  const p50 = doc.results.find((r) => r.workload === 'latency' && r.metric === 'p50Us');
  assert.ok(p50, 'latency p50 reported');
  // lsptap-profile runs the gopls session only, where its budgets are.
  for (const m of doc.modes.filter((x) => x.available && !GOPLS_ONLY_MODES.includes(x.name as ModeName))) assert.ok(Number.isFinite(p50.modes[m.name]?.median), `${m.name} has a p50`);
  assert.ok(doc.budgets.some((b) => b.budget.startsWith('symbolizing gopls once')), 'the symbolizing budget is printed');
  assert.ok(doc.results.some((r) => r.workload === 'throughput' && r.metric === 'msgsPerS'));
  assert.ok(doc.results.some((r) => r.workload.startsWith('large') && r.metric === 'rssGrowthMb'));
  assert.ok(doc.budgets.length >= 9);
  for (const b of doc.budgets) assert.match(b.verdict, /^(PASS|FAIL|SKIP)$/);
});

test('a short editing day through lsptap reports RSS at each tenth, log bytes and CPU per message by half, and its two budget lines', { timeout: 300_000 }, async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', 'run.js'), '--json', '--only', 'day', '--modes', 'lsptap', '--day-messages', '40000'],
      { maxBuffer: 16 << 20 }, (err, out) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(out)));
  });
  const doc = JSON.parse(stdout) as { results: { workload: string; metric: string; modes: Record<string, { median: number }> }[]; budgets: { budget: string; verdict: string }[] };
  const day = new Map(doc.results.filter((r) => r.workload === 'editing day').map((r) => [r.metric, r.modes.lsptap?.median]));
  assert.ok((day.get('messages') ?? 0) >= 40_000, 'the day ran its messages');
  for (let tenth = 0; tenth <= 100; tenth += 10) assert.ok((day.get(`rssMb at ${tenth} %`) ?? 0) > 0, `RSS at ${tenth} %`);
  for (const m of ['logBytesPerMsg', 'cpuPerMsgUsFirstHalf', 'cpuPerMsgUsSecondHalf', 'rssGrowthSecondHalfPct']) assert.ok(Number.isFinite(day.get(m)), m);
  assert.ok((day.get('logBytesPerMsg') ?? 0) > 100, 'every message has a log line');
  assert.ok((day.get('cancelledPct') ?? 0) > 0, 'some completions were cancelled before their answer');
  const lines = doc.budgets.filter((b) => b.budget.startsWith('editing day: lsptap '));
  assert.equal(lines.length, 2);
  for (const b of lines) assert.match(b.verdict, /^(PASS|FAIL)$/);
});

test('the gopls workload\'s ring figures are read from a kernel-timed session\'s end line: records per second of wall time, drops; none without kernel timing', { skip: bpfSkipReason() }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const figures: ReturnType<typeof ringFigures>[] = [];
  for (const bpf of ['--bpf=require', '--bpf=off']) {
    const log = path.join(dir, `${bpf}.jsonl`);
    const run = await startSession(t, ['--log', log, bpf]);
    for (let i = 0; i < 3; i++) await run.conn.sendRequest('test/echo', {});
    const end = await endSession(run);
    assert.equal(end.code, 0, end.stderr);
    const k = readLog(log).find((l) => l.msg === 'session end')?.kernel as { ioEvents: number; treeEvents: number } | undefined;
    if (bpf === '--bpf=require') assert.ok(k !== undefined && k.ioEvents > 0, 'session end counts io events');
    figures.push(ringFigures(log, 2000));
    if (bpf === '--bpf=require') assert.equal(figures[0].ringEventsPerS, (k!.ioEvents + k!.treeEvents) / 2);
  }
  assert.equal(figures[0].ringDrops, 0);
  assert.deepEqual(figures[1], {});
});

test('--write-docs replaces only what stands between the bench-table markers, and refuses a file without them', (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const file = path.join(dir, 'benchmarks.md');
  fs.writeFileSync(file, '# B\n\nbefore\n<!-- bench-table:start -->\nold table\n<!-- bench-table:end -->\nafter\n');
  const table = formatDocsTable([{ budget: 'first answer, lsptap − relay (kernel timing off)', value: 12.345, limit: '≤ 15 ms', verdict: 'PASS', note: null }], '2026-12-07', 'a test machine', '--only first-answer --write-docs');
  writeDocsTable(file, table);
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(text, `# B\n\nbefore\n<!-- bench-table:start -->\n${table}\n<!-- bench-table:end -->\nafter\n`);
  assert.match(text, /Measured 2026-12-07 on a test machine, with `npm run bench -- --only first-answer --write-docs`/);
  assert.match(text, /\| first answer, lsptap − relay \(kernel timing off\) \| 12\.3 \| ≤ 15 ms \| PASS \|/);
  fs.writeFileSync(file, 'no markers\n');
  assert.throws(() => writeDocsTable(file, table), /has no <!-- bench-table:start -->/);
});

test('the first-answer workload times spawn to the answer of initialize, gopls on a one-file module', { skip: spawnSync('gopls', ['version']).status === 0 ? false : 'gopls not installed' }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const ms = await firstAnswerMs(['gopls'], oneFileModule(dir));
  assert.ok(Number.isFinite(ms) && ms > 0, `${ms}`);
});
