// The logs as they are, read by a real analytical engine: DuckDB (its npm package) answers
// "p99 latency per method over all sessions of the last week" straight from the .jsonl
// files, and agrees with `lsptap report --since 7d`. docs/commands.md's jq one-liner is run too.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';
import { docSection, readDoc } from './helpers/docs';
import { lsptapBin, readLog } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { runFixtureSession } from './helpers/fixture-session';
import type { MethodStats } from '../src/sinks/summary';

/** docs/commands.md's query; LOGS is replaced by the glob. */
export const P99_LAST_WEEK_SQL = `
SELECT CASE dir WHEN 's2c' THEN 'c2s' ELSE 's2c' END AS dir,  -- the request's direction
       method,
       count(*) AS answered,
       round(quantile_cont(latencyMs, 0.99), 3) AS p99_ms
FROM read_json('LOGS', format = 'newline_delimited',
     columns = {msg: 'VARCHAR', time: 'BIGINT', dir: 'VARCHAR', kind: 'VARCHAR',
                method: 'VARCHAR', latencyMs: 'DOUBLE'})
WHERE msg = 'message' AND kind = 'response' AND latencyMs IS NOT NULL
  AND to_timestamp(time / 1000) >= now() - INTERVAL 7 DAY
GROUP BY ALL
ORDER BY p99_ms DESC`;

export const JQ_P99 = `[inputs | select(.msg == "message" and .kind == "response" and .latencyMs != null)] | group_by(.method)[] | (map(.latencyMs) | sort) as $l | ((($l | length) - 1) * 0.99) as $p | ($p | floor) as $i | [.[0].method, ($l | length), (($l[$i] + (($l[$i + 1] // $l[$i]) - $l[$i]) * ($p - $i)) * 1000 | round / 1000)] | @tsv`;

test('DuckDB reads the .jsonl logs as they are and its p99 per method over the last week matches lsptap report', skipUnless(missingCommand('gopls')), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-duckdb-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [i, hovers] of [[1, 5], [2, 11]] as const) {
    assert.equal((await runFixtureSession({ logPath: path.join(dir, `lsptap-${i}.jsonl`), hovers })).exitCode, 0);
  }
  // A session from a month ago: both must leave it out.
  const monthMs = 30 * 86400e3;
  const old = readLog(path.join(dir, 'lsptap-1.jsonl')).map((l) => JSON.stringify({ ...l, session: 'old', time: (l.time as number) - monthMs }));
  fs.writeFileSync(path.join(dir, 'lsptap-0-old.jsonl'), old.join('\n') + '\n');

  const instance = await DuckDBInstance.create(':memory:');
  t.after(() => instance.closeSync());
  const conn = await instance.connect();
  t.after(() => conn.closeSync());
  const reader = await conn.runAndReadAll(P99_LAST_WEEK_SQL.replace('LOGS', path.join(dir, '*.jsonl').replace(/'/g, "''")));
  const rows = reader.getRowObjectsJson() as { dir: string; method: string; answered: number | string; p99_ms: number }[];

  const report = JSON.parse(execFileSync(process.execPath, [lsptapBin, 'report', '--json', '--since', '7d', ...fs.readdirSync(dir).map((f) => path.join(dir, f))], { encoding: 'utf8' })) as { methods: MethodStats[] };
  const answered = report.methods.filter((m) => m.answered > 0);
  assert.equal(rows.length, answered.length);
  for (const m of answered) {
    const row = rows.find((r) => r.dir === m.dir && r.method === m.method);
    assert.ok(row !== undefined, `DuckDB has ${m.dir} ${m.method}`);
    assert.equal(Number(row.answered), m.answered, `${m.method} count`);
    assert.ok(Math.abs(row.p99_ms - m.p99Ms!) <= 0.001, `${m.method} p99: DuckDB ${row.p99_ms} vs report ${m.p99Ms}`);
  }
  assert.equal(Number(rows.find((r) => r.method === 'textDocument/hover')!.answered), 16);
  t.diagnostic(`DuckDB: ${rows.map((r) => `${r.method} ${r.answered} p99 ${r.p99_ms}`).join('; ')}`);
});

test("docs/commands.md's jq one-liner gives the same count and p99 per method as the report", skipUnless(missingCommand('jq', ['--version']) ?? missingCommand('gopls')), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-jq-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'lsptap-1.jsonl');
  assert.equal((await runFixtureSession({ logPath: log, hovers: 7 })).exitCode, 0);
  const out = execFileSync('jq', ['-nr', JQ_P99, log], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.split('\t'));
  const hover = rows.find((r) => r[0] === 'textDocument/hover')!;
  assert.equal(hover[1], '7');
  const report = JSON.parse(execFileSync(process.execPath, [lsptapBin, 'report', '--json', log], { encoding: 'utf8' })) as { methods: MethodStats[] };
  for (const m of report.methods.filter((x) => x.answered > 0)) {
    const row = rows.find((r) => r[0] === m.method);
    assert.ok(row !== undefined, `jq has ${m.method}`);
    assert.equal(Number(row[1]), m.answered);
    assert.ok(Math.abs(Number(row[2]) - m.p99Ms!) <= 0.001, `${m.method} p99: jq ${row[2]} vs report ${m.p99Ms}`);
  }
});

test("docs/commands.md shows the same DuckDB query and jq one-liner the tests run", () => {
  const doc = docSection(readDoc('docs/commands.md'), 'Ingesting the logs');
  assert.ok(doc.includes(P99_LAST_WEEK_SQL.replace('LOGS', '~/.local/state/lsptap/*.jsonl').trim()), 'docs/commands.md has the DuckDB query');
  assert.ok(doc.includes(`jq -nr '${JQ_P99}' ~/.local/state/lsptap/*.jsonl`), 'docs/commands.md has the jq one-liner');
});
