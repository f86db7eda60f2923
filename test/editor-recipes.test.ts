// The README's editor recipes, run as written where the editor is installed here: the test
// takes the block from README.md (so the two cannot drift), puts it where the editor reads
// its configuration, and checks a real gopls session went through lsptap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures, goFixture, lsptapBin, messages, readLog, repoRoot, start, tmpDir } from './helpers/index';
import { realGopls, requireCapability, which } from './helpers/dropin';

const nvim = which('nvim');

/** The fenced block of `lang` that follows the paragraph starting with `**heading**` in README "Editor recipes". */
function recipe(heading: string, lang: string): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Editor recipes'), readme.indexOf('## Usage'));
  const at = section.indexOf(`**${heading}**`);
  assert.ok(at >= 0, `README has a ${heading} recipe`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section.slice(at));
  assert.ok(m !== null, `the ${heading} recipe has a ${lang} block`);
  return m[1];
}

/** A PATH with `lsptap` on it, as `npm install -g` leaves it. */
function pathWithLsptap(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(lsptapBin, path.join(bin, 'lsptap'));
  return `${bin}:${process.env.PATH ?? ''}`;
}

test('the README\'s Neovim recipe, as init.lua, starts gopls through lsptap: hover answered, the session logged', requireCapability('nvim and gopls', nvim !== null && realGopls !== null) ?? { timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t);
  const config = path.join(dir, 'config');
  fs.mkdirSync(path.join(config, 'nvim'), { recursive: true });
  const initLua = path.join(config, 'nvim', 'init.lua');
  fs.writeFileSync(initLua, recipe('Neovim', 'lua'));
  const out = path.join(dir, 'probe.json');
  const file = path.join(goFixture, 'main.go');
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf('g.Greet("world")') + 3;
  const before = text.slice(0, at);
  const logDir = path.join(dir, 'state', 'lsptap');
  const env = {
    ...process.env,
    PATH: pathWithLsptap(dir),
    HOME: dir, XDG_CONFIG_HOME: config, XDG_DATA_HOME: path.join(dir, 'data'), XDG_STATE_HOME: path.join(dir, 'state'),
    PROBE_OUT: out,
    PROBE_POSITION: JSON.stringify({ line: before.split('\n').length - 1, character: at - (before.lastIndexOf('\n') + 1) }),
  };
  // -u init.lua: the recipe is the whole configuration; filetype detection is on as in a user's setup.
  const editor = start(t, nvim!, ['--headless', '-n', '-i', 'NONE', '-u', initLua, '-c', 'filetype on', '-c', `edit ${file}`, '-c', `luafile ${path.join(fixtures, 'nvim', 'recipe-probe.lua')}`], { cwd: goFixture, env, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.deepEqual(await editor.exited, { code: 0, signal: null }, editor.stderr());
  const got = JSON.parse(fs.readFileSync(out, 'utf8')) as { ok: boolean; error?: string; name: string; cmd: string[]; hover: { contents: { value: string } } | null; stopped: boolean };
  assert.equal(got.error, undefined);
  assert.deepEqual(got.cmd, ['lsptap', '--', 'gopls']);
  assert.match(got.hover?.contents.value ?? '', /Greet\(name string\) string/);
  assert.equal(got.stopped, true);
  const files = fs.readdirSync(logDir);
  assert.equal(files.length, 1, 'one session log under $XDG_STATE_HOME/lsptap');
  const lines = readLog(path.join(logDir, files[0]));
  assert.ok(messages(lines).some((l) => l.dir === 's2c' && l.kind === 'response' && l.method === 'textDocument/hover'), 'the hover is in the log');
  assert.equal(lines.find((l) => l.msg === 'session end')?.exitCode, 0);
});

test('every JSON recipe in the README parses, and each names lsptap or its shim as the server command', () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Editor recipes'), readme.indexOf('## Usage'));
  const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, 'VS Code, Sublime Text and Zed');
  for (const b of blocks) {
    const text = JSON.stringify(JSON.parse(b));
    assert.match(text, /lsptap/, `names lsptap: ${b}`);
  }
});
