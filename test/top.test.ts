// `lsptap top` as a person sees it: in an 80x24 tmux pane beside a real gopls session through
// lsptap. While gopls computes textDocument/references the screen lists it in flight; when
// the response is in, the table and the slow list show the latency the log holds; `q` quits.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { lsptapBin, connect, readLog, sessionLogs, startLsptap, tmpDir, waitFor } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { bpfSkipReason, kernelDecided } from './helpers/kernel';
import { answerServerRequests, goRootSrc } from '../src/demo/gopls-script';
import { formatMs } from '../src/sinks/text-table';

const missing = missingCommand('gopls') ?? missingCommand('tmux', ['-V']);

function capture(name: string): string[] {
  return execFileSync('tmux', ['capture-pane', '-p', '-t', name], { encoding: 'utf8' }).replace(/\n$/, '').split('\n');
}

/** Poll the pane until `pred` holds; the last screen goes in the failure message. */
async function screenUntil(name: string, pred: (lines: string[]) => boolean, timeoutMs: number, what: string): Promise<string[]> {
  let last: string[] = [];
  try {
    await waitFor(() => pred(last = capture(name)), timeoutMs, what);
  } catch (err) {
    throw new Error(`${(err as Error).message}; screen:\n${last.join('\n')}`);
  }
  return last;
}

test('top in an 80x24 tmux pane shows references in flight while gopls computes it, then its latency from the log; q quits', { ...skipUnless(missing), timeout: 600_000 }, async (t) => {
  const dir = tmpDir(t);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const name = `lsptap-top-${process.pid}`;
  execFileSync('tmux', ['new-session', '-d', '-s', name, '-x', '80', '-y', '24', `${process.execPath} ${lsptapBin} top --log-dir ${logDir} --interval-ms 200`]);
  t.after(() => { spawnSync('tmux', ['kill-session', '-t', name]); });
  await screenUntil(name, (l) => l[0].startsWith('lsptap top'), 30_000, 'the first frame');

  const src = goRootSrc();
  const run = startLsptap(t, ['--log-dir', logDir], ['gopls'], { cwd: src });
  const conn = connect(run.child);
  answerServerRequests(conn);
  const file = path.join(src, 'net', 'http', 'server.go');
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathToFileURL(file).href;
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(src).href, capabilities: { workspace: { configuration: true } } });
  await conn.sendNotification('initialized', {});
  // A request the server read before the probes watched has no server side (docs/kernel-timing.md):
  // the references request, whose breakdown the slow line shows, goes once they do.
  await kernelDecided(path.join(logDir, sessionLogs(logDir)[0]), run);
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'go', version: 1, text } });
  const line = text.split('\n').findIndex((l) => l.startsWith('func (srv *Server) ListenAndServe()'));
  // References to a method of net/http's Server across the standard library: gopls takes
  // seconds (it type-checks every importer), long enough to watch it in flight.
  let done = false;
  const refs = conn.sendRequest('textDocument/references', { textDocument: { uri }, position: { line, character: 25 }, context: { includeDeclaration: true } })
    .finally(() => { done = true; });

  const inFlight = /^\s+\d+(\.\d)?s\s+c2s\s+textDocument\/references\s/;
  const during = await screenUntil(name, (l) => l.some((x) => inFlight.test(x)), 60_000, 'references in flight');
  assert.ok(!done, 'the screen showed the request while it was still in flight');
  const flightTitle = during.findIndex((x) => x.startsWith('IN FLIGHT '));
  const table = during.findIndex((x) => x.startsWith('METHOD'));
  const row = during.findIndex((x) => inFlight.test(x));
  assert.ok(flightTitle >= 0 && flightTitle < row && row < table, `in the in-flight section:\n${during.join('\n')}`);
  assert.ok(during.length <= 24 && during.every((x) => x.length <= 80), 'fits 80x24');
  t.diagnostic(during.join('\n'));

  const result = await refs as unknown[];
  assert.ok(result.length > 0);
  const logFile = sessionLogs(logDir).map((n) => path.join(logDir, n))[0];
  let latencyMs = 0;
  await waitFor(() => {
    const resp = readLog(logFile).find((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/references');
    latencyMs = typeof resp?.latencyMs === 'number' ? resp.latencyMs : 0;
    return latencyMs > 0;
  }, 10_000, 'the response line in the log');
  const shown = formatMs(latencyMs);
  // dir, method, 1m n, p50, p99, all n, p50, p99, errors, cancellations.
  const tableRow = new RegExp(`^c2s textDocument/references\\s+1\\s+${shown}\\s+${shown}\\s+1\\s+${shown}\\s+${shown}\\s+0\\s+0$`);
  const after = await screenUntil(name, (l) => l.some((x) => tableRow.test(x)) && !l.some((x) => inFlight.test(x)), 10_000, `references done at ${shown} ms`);
  const slowLine = after.find((x) => / c2s textDocument\/references /.test(x) && x.includes(`${shown} ms:`));
  assert.ok(slowLine !== undefined, `a slow line for references:\n${after.join('\n')}`);
  if (bpfSkipReason() === false) assert.match(slowLine, /ms: srv \d/, 'the slow line carries the kernel breakdown');
  t.diagnostic(after.join('\n'));

  execFileSync('tmux', ['send-keys', '-t', name, 'q']);
  await waitFor(() => spawnSync('tmux', ['has-session', '-t', name]).status !== 0, 10_000, 'top to quit on q');

  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await run.exited).code, 0);
});
