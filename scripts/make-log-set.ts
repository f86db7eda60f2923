// A month of session logs for measuring `lsptap report` on big inputs: FILES files of about
// BYTES in all, each one session made of a real session's lines (by default the gopls demo
// session in test/fixtures/logs, kernel timing included) repeated. Each repetition gets new
// ids, and its latencies and kernel parts a seeded log-normal factor, so percentiles are not
// the seed's few values; times spread the files over the 30 days before now.
//
//   node dist/scripts/make-log-set.js --out DIR [--bytes 1e9] [--files 85] [--from SEED.jsonl]
//
// Then: /usr/bin/time -v node bin/lsptap report DIR > /dev/null

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/diff/bootstrap';

const { values } = parseArgs({
  options: { out: { type: 'string' }, bytes: { type: 'string', default: '1e9' }, files: { type: 'string', default: '85' }, from: { type: 'string' }, seed: { type: 'string', default: '1' } },
});
if (values.out === undefined) { process.stderr.write('usage: make-log-set --out DIR [--bytes N] [--files N] [--from SEED.jsonl] [--seed N]\n'); process.exit(2); }
const seedFile = values.from ?? path.join(__dirname, '..', '..', 'test', 'fixtures', 'logs', 'gopls-demo.jsonl');
const totalBytes = Number(values.bytes);
const fileCount = Number(values.files);
const random = seededRandom(Number(values.seed));

const lines = fs.readFileSync(seedFile, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
const start = lines.find((l) => l.msg === 'session start');
const end = lines.find((l) => l.msg === 'session end');
const messages = lines.filter((l) => l.msg === 'message');
if (start === undefined || messages.length === 0) throw new Error(`${seedFile}: no session start or no message lines`);
const t0 = messages[0].time as number;
const spanMs = (messages[messages.length - 1].time as number) - t0 + 1;

/** A log-normal factor around 1 (sigma 0.5): latencies vary as real ones do, never negative. */
function factor(): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.exp(0.5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function scaled(kernel: unknown, f: number): unknown {
  if (kernel === null || typeof kernel !== 'object' || Array.isArray(kernel)) return kernel;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kernel)) out[k] = typeof v === 'number' && k.endsWith('Us') ? Math.round(v * f) : v;
  return out;
}

fs.mkdirSync(values.out, { recursive: true });
const monthMs = 30 * 86_400_000;
const now = Date.now();
let written = 0;
for (let i = 0; i < fileCount; i++) {
  const session = Math.floor(random() * 0xffffffff).toString(16).padStart(8, '0');
  const base = now - monthMs + Math.floor((monthMs * i) / fileCount);
  const name = path.join(values.out, `lsptap-${new Date(base).toISOString().replace(/[-:]/g, '').replace('.', '-').slice(0, 19)}-${10000 + i}.jsonl`);
  const fd = fs.openSync(name, 'w');
  const budget = (totalBytes * (i + 1)) / fileCount - written;
  let bytes = 0;
  let batch: string[] = [];
  const put = (o: Record<string, unknown>): void => {
    const s = JSON.stringify(o) + '\n';
    bytes += Buffer.byteLength(s);
    batch.push(s);
    if (batch.length >= 2000) { fs.writeSync(fd, batch.join('')); batch = []; }
  };
  put({ ...start, session, time: base });
  for (let rep = 0; bytes < budget; rep++) {
    // Request and response of one repetition share a factor; ids stay unique per session.
    const factors = new Map<string, number>();
    for (const m of messages) {
      const id = typeof m.id === 'number' ? m.id + rep * 1000 : m.id;
      const pair = `${String(m.method)} ${String(m.id)}`;
      let f = factors.get(pair);
      if (f === undefined) { f = factor(); factors.set(pair, f); }
      const time = base + rep * spanMs + ((m.time as number) - t0);
      const o: Record<string, unknown> = { ...m, session, id, time, kernel: scaled(m.kernel, f) };
      if (typeof m.latencyMs === 'number') o.latencyMs = Math.round(m.latencyMs * f * 1000) / 1000;
      put(o);
    }
  }
  if (end !== undefined) put({ ...end, session, time: base + Math.ceil(bytes / 1000) });
  fs.writeSync(fd, batch.join(''));
  fs.closeSync(fd);
  written += bytes;
}
process.stdout.write(`${fileCount} file(s), ${written} bytes in ${values.out}\n`);
