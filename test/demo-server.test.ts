// `lsptap demo --server NAME`: the demo on another installed server, a clear line when it is not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { lsptapBin, start, tmpDir } from './helpers/index';
import { bpfSkipReason } from './helpers/kernel';
import { serverOrSkip } from './helpers/servers';

test('demo --server with an unknown name exits 2 with one line naming the servers it knows, then the usage', async (t) => {
  const run = start(t, process.execPath, [lsptapBin, 'demo', '--server', 'vim9']);
  assert.equal((await run.exited).code, 2);
  assert.equal(run.stderr().split('\n')[0], 'lsptap demo: --server needs gopls, clangd, pylsp, bash-language-server, typescript-language-server or tsc, got "vim9"');
});

test('demo --server clangd without clangd on PATH exits 1 with one line saying so', async (t) => {
  const run = start(t, process.execPath, [lsptapBin, 'demo', '--server', 'clangd'], { env: { ...process.env, PATH: tmpDir(t) } });
  assert.equal((await run.exited).code, 1);
  assert.equal(run.stderr(), 'lsptap demo: clangd is not installed (not on PATH); install it, or run the demo on gopls (the default)\n');
});

const clangd = serverOrSkip('clangd');
test('demo --server clangd runs the session on clangd through lsptap and explains its slowest requests', { skip: clangd.skip ?? (bpfSkipReason() || undefined) }, async (t) => {
  const binDir = path.dirname(clangd.server!.command[0]);
  const log = path.join(tmpDir(t), 'demo.jsonl');
  const run = start(t, process.execPath, [lsptapBin, 'demo', '--server', 'clangd', '--log', log], { env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` } });
  assert.equal((await run.exited).code, 0, run.stderr());
  assert.match(run.stderr(), /^lsptap demo: clangd on a small project in .*, opening main\.c$/m);
  assert.match(run.stderr(), /slowest requests, explained:\n\S+ [\d,]+ ms: [\d,.]+ ms /);
  assert.match(run.stderr(), /ok {2}textDocument\/completion .* 2 completions after/);
});
