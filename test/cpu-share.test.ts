// lsptap's CPU against the server's: `session end` carries both, and --summary prints the
// share (issue 27). A server that burns CPU in a child, so the descendants' CPU is counted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { frame, readLog, startLsptap, tmpDir, collect } from './helpers';

// Reads its input to the end, then has a child hash 300 MB: seconds of CPU in a descendant.
const BUSY_SERVER = ['sh', '-c', 'cat >/dev/null; head -c 300000000 /dev/zero | md5sum >/dev/null'];

test('session end carries lsptap\'s CPU and the server tree\'s, and --summary prints the share', async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const r = startLsptap(t, ['--bpf=off', '--summary', '--log', log], BUSY_SERVER);
  r.child.stdin!.end(frame('{"jsonrpc":"2.0","method":"initialized","params":{}}'));
  void collect(r.child.stdout!);
  const exit = await r.exited;
  assert.equal(exit.code, 0);
  const end = readLog(log).find((l) => l.msg === 'session end')!;
  const own = end.lsptapCpuMs as number, server = end.serverCpuMs as number;
  assert.ok(own > 0, `lsptapCpuMs ${own}`);
  // md5sum ran in a grandchild (sh's child): counted once sh reaped it and lsptap reaped sh.
  assert.ok(server >= 100, `serverCpuMs ${server} counts the descendant's hashing`);
  const line = /CPU: lsptap (\d+) ms, ([\d.]+) % of the server's (\d+) ms/.exec(r.stderr());
  assert.ok(line !== null, `--summary prints the share: ${r.stderr()}`);
  assert.equal(Number(line[1]), Math.round(own));
  assert.equal(Number(line[3]), Math.round(server));
  assert.equal(Number(line[2]), Number((100 * own / server).toFixed(1)));
});
