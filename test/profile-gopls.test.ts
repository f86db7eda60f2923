// Per-request profiles of the real gopls (Debian's: stripped, Go 1.19, named from its
// .gopclntab): a documentSymbol request on the Go standard library makes it load and check
// packages, and what people read names gopls's own functions: the response's profile, the
// sentence of --summary and `lsptap report`, and Go's own pprof on `lsptap profile -o`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DocumentSymbolRequest } from 'vscode-languageserver-protocol/node';
import { goRootSrc } from '../src/demo/gopls-script';
import type { ProfileDigest } from '../src/model/record';
import { bpfSkipReason, openInGopls, startSession, endSession } from './helpers/kernel';
import { lsptapBin, readLog, tmpDir } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { sentenceFault } from './helpers/sentences';

const skip = skipUnless(bpfSkipReason() || missingCommand('gopls')).skip;

/** Code of gopls's own or of the Go packages it is built on: what a slow-gopls report asks for. */
const GOPLS_CODE = /^(golang\.org\/x\/tools\/|go\/(types|parser|ast|scanner|token|build|doc|printer)\.)/;

test('gopls\'s profiled documentSymbol names gopls functions in its response profile, its sentence and go tool pprof -tagfocus', { skip, timeout: 280_000 }, async (t) => {
  const srcRoot = goRootSrc();
  const dir = tmpDir(t, { worldWritable: true });
  const log = path.join(dir, 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--summary', '--bpf=require', '--profile-hz', '99'], { server: ['gopls'], cwd: srcRoot });
  const { uri } = await openInGopls(run, srcRoot, 'std', path.join(srcRoot, 'net', 'http', 'server.go'));
  const symbols = await run.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } }) as unknown[] | null;
  assert.ok(symbols !== null && symbols.length > 100, `${symbols?.length} symbols`);
  const exit = await endSession(run);
  assert.equal(exit.code, 0, exit.stderr);

  const line = readLog(log).find((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/documentSymbol');
  assert.ok(line !== undefined);
  const p = (line.kernel as { profile?: ProfileDigest }).profile;
  assert.ok(p !== undefined, 'documentSymbol has kernel.profile');
  t.diagnostic(`documentSymbol ${p.samples} ticks; cpuIn ${JSON.stringify(p.cpuIn)}`);
  assert.ok(p.samples >= 5, `${p.samples} ticks`);
  assert.ok(p.cpuIn.some((s) => GOPLS_CODE.test(s.fn)), `gopls code among what its CPU worked for: ${JSON.stringify(p.cpuIn)}`);
  assert.ok(p.total.some((s) => GOPLS_CODE.test(s.fn)), `gopls code on its stacks: ${JSON.stringify(p.total)}`);

  // The sentence quotes the first of cpuIn on the busy part, in --summary and lsptap report alike.
  const report = execFileSync(process.execPath, [lsptapBin, 'report', log], { encoding: 'utf8' });
  for (const text of [exit.stderr, report]) {
    const said = text.split('\n').map((l) => l.trim()).find((l) => l.startsWith('textDocument/documentSymbol ') && / ms: /.test(l));
    assert.ok(said !== undefined, text);
    t.diagnostic(said);
    const first = p.cpuIn[0].fn.startsWith('[') ? 'the Go ' : p.cpuIn[0].fn;
    assert.ok(said.includes(`busy (thread time `) && said.includes(`% in ${first}`), `the busy part names ${first}: ${said}`);
    assert.equal(sentenceFault(said), null);
  }

  // Go's own pprof lists gopls's functions for this request alone.
  const out = path.join(dir, 'cpu.pb.gz');
  execFileSync(process.execPath, [lsptapBin, 'profile', '-o', out, log], { stdio: 'pipe' });
  const top = execFileSync('go', ['tool', 'pprof', '-top', '-nodecount=400', '-tagfocus', `id=${String(line.id)}`, out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  assert.match(top, /golang\.org\/x\/tools\/gopls\//, top.slice(0, 3000));
  assert.match(top, /go\/(types|parser|ast)\./, top.slice(0, 3000));

  // Loading the package runs go list: that wait is `child` time, as much as blockedOnChildUs,
  // waited in gopls's gocommand, and Go's pprof selects it with -tagfocus cause=child.
  const k = line.kernel as { blockedOnChildUs: number; serverBlockedUs: number };
  t.diagnostic(`documentSymbol blocked ${k.serverBlockedUs} µs, on children ${k.blockedOnChildUs} µs; waitCauses ${JSON.stringify(p.waitCauses)}`);
  assert.ok(k.blockedOnChildUs > 0, 'documentSymbol waited for go list');
  const child = p.waitCauses?.find((c) => c.cause === 'child');
  assert.ok(child !== undefined && Math.abs(child.ms * 1000 - k.blockedOnChildUs) <= Math.max(1000, 0.05 * k.blockedOnChildUs), `child ${child?.ms} ms against blockedOnChildUs ${k.blockedOnChildUs}`);
  assert.ok(child.in.some((s) => /golang\.org\/x\/tools\/internal\/gocommand\./.test(s.fn)), `child waited in ${JSON.stringify(child.in)}`);
  const wait = path.join(dir, 'wait.pb.gz');
  execFileSync(process.execPath, [lsptapBin, 'profile', '--kind', 'wait', '-o', wait, log], { stdio: 'pipe' });
  const waited = execFileSync('go', ['tool', 'pprof', '-top', '-nodecount=400', '-tagfocus', 'cause=child', wait], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  assert.match(waited, /golang\.org\/x\/tools\/internal\/gocommand\./, waited.slice(0, 3000));
});
