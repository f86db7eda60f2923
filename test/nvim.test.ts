// A real editor as the client: Neovim from Debian, headless, with a small Lua config
// (test/fixtures/nvim/lsp-probe.lua) that starts `gopls` by name, finding lsptap's shim
// first on PATH, opens main.go of the fixture module and asks for hover and definition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures, goFixture, messages, readLog, sessionLogs, start, tmpDir } from './helpers/index';
import { makeShimDir, realGopls } from './helpers/dropin';
import { missingUnless, skipUnless, which } from './helpers/capabilities';

const nvim = which('nvim');
const need = skipUnless(missingUnless('nvim and gopls', nvim !== null && realGopls !== null));

function positionOf(text: string, needle: string, delta: number): { line: number; character: number } {
  const at = text.indexOf(needle) + delta;
  const before = text.slice(0, at);
  return { line: before.split('\n').length - 1, character: at - (before.lastIndexOf('\n') + 1) };
}

interface ProbeResult {
  ok: boolean;
  error?: string;
  stopped?: boolean;
  hover?: { result?: { contents: { value: string } } };
  definition?: { result?: Array<{ uri: string; range: { start: { line: number } } }> };
}

test('Neovim starting gopls by name gets the shim: hover and definition answered, the session logged', need, async (t) => {
  const dir = tmpDir(t);
  const shimDir = makeShimDir(path.join(dir, 'shim'));
  const logDir = path.join(dir, 'logs');
  const out = path.join(dir, 'probe.json');
  const file = path.join(goFixture, 'main.go');
  const text = fs.readFileSync(file, 'utf8');
  const env = {
    ...process.env,
    PATH: `${shimDir}:${process.env.PATH}`,
    LSPTAP_LOG_DIR: logDir,
    HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data'), XDG_STATE_HOME: path.join(dir, 'state'),
    PROBE_CMD: JSON.stringify(['gopls']),
    PROBE_ROOT: goFixture,
    PROBE_FILE: file,
    PROBE_OUT: out,
    PROBE_POSITIONS: JSON.stringify({ hover: positionOf(text, 'g.Greet("world")', 3), definition: positionOf(text, 'Shout(g.Greet', 1) }),
  };
  const editor = start(t, nvim!, ['--headless', '-n', '-i', 'NONE', '-u', 'NONE', '-c', `luafile ${path.join(fixtures, 'nvim', 'lsp-probe.lua')}`], { cwd: goFixture, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = await editor.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, editor.stderr());

  const got = JSON.parse(fs.readFileSync(out, 'utf8')) as ProbeResult;
  assert.equal(got.error, undefined);
  assert.equal(got.ok, true);
  assert.match(got.hover!.result!.contents.value, /Greet\(name string\) string/);
  assert.match(got.definition!.result![0].uri, /shout\.go$/);
  assert.equal(got.definition!.result![0].range.start.line, 5, 'func Shout is on line 6 of shout.go');
  assert.equal(got.stopped, true, 'the client stopped (shutdown, exit) and the server went away');

  const files = sessionLogs(logDir);
  assert.equal(files.length, 1);
  const lines = readLog(path.join(logDir, files[0]));
  const startLine = lines.find((l) => l.msg === 'session start')!;
  assert.equal(startLine.invokedAs, 'gopls');
  assert.deepEqual(startLine.command, [realGopls]);
  const msgs = messages(lines);
  const answered = (m: string): boolean => msgs.some((l) => l.dir === 's2c' && l.kind === 'response' && l.method === m && l.isError === false);
  for (const m of ['initialize', 'textDocument/hover', 'textDocument/definition', 'shutdown']) assert.ok(answered(m), `${m} answered in the log`);
  assert.ok(msgs.some((l) => l.dir === 'c2s' && l.method === 'exit'));
  const end = lines.find((l) => l.msg === 'session end')!;
  assert.equal(end.exitCode, 0);
  assert.equal(end.unansweredCount, 0);
});
