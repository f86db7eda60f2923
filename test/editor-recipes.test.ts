// docs/editors.md's recipes, run as written where the editor is installed here: the test
// takes the block from docs/editors.md (so the two cannot drift), puts it where the editor reads
// its configuration, and checks a real gopls session went through lsptap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures, goFixture, lsptapBin, messages, readLog, sessionLogs, start, tmpDir, type LogLine } from './helpers/index';
import { realGopls } from './helpers/dropin';
import { missingUnless, skipUnless, which } from './helpers/capabilities';
import { docSection, readDoc } from './helpers/docs';

const nvim = which('nvim');
const emacs = which('emacs');

/** docs/editors.md's "Recipes" section. */
const recipes = (): string => docSection(readDoc('docs/editors.md'), 'Recipes');

/** The fenced block of `lang` that follows the paragraph starting with `**heading**` in docs/editors.md "Recipes". */
function recipe(heading: string, lang: string): string {
  const section = recipes();
  const at = section.indexOf(`**${heading}**`);
  assert.ok(at >= 0, `docs/editors.md has a ${heading} recipe`);
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

interface ProbeResult { error?: string; mode?: string; cmd: string[]; hover: { contents: { value: string } } | null; stopped: boolean }

/**
 * What every editor probe must show: the server command is the recipe's `lsptap -- gopls`,
 * gopls answered the hover, the editor stopped the server, and exactly one session log was
 * written under $XDG_STATE_HOME/lsptap. Returns the probe's answers and that log's lines.
 */
function checkProbe(out: string, logDir: string, stderr: string): { got: ProbeResult; lines: LogLine[] } {
  const got = JSON.parse(fs.readFileSync(out, 'utf8')) as ProbeResult;
  assert.equal(got.error, undefined, stderr);
  assert.deepEqual(got.cmd, ['lsptap', '--', 'gopls']);
  assert.match(got.hover?.contents.value ?? '', /Greet\(name string\) string/);
  assert.equal(got.stopped, true);
  const files = sessionLogs(logDir);
  assert.equal(files.length, 1, 'one session log under $XDG_STATE_HOME/lsptap');
  return { got, lines: readLog(path.join(logDir, files[0])) };
}

test('docs/editors.md\'s Neovim recipe, as init.lua, starts gopls through lsptap: hover answered, the session logged', { ...skipUnless(missingUnless('nvim and gopls', nvim !== null && realGopls !== null)), timeout: 120_000 }, async (t) => {
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
  const { lines } = checkProbe(out, logDir, editor.stderr());
  assert.ok(messages(lines).some((l) => l.dir === 's2c' && l.kind === 'response' && l.method === 'textDocument/hover'), 'the hover is in the log');
  assert.equal(lines.find((l) => l.msg === 'session end')?.exitCode, 0);
});

test('docs/editors.md\'s Emacs recipe, as the init file, has eglot start gopls through lsptap: hover answered, the session logged from initialize to session end', { ...skipUnless(missingUnless('emacs (with eglot and go-mode: elpa-eglot, elpa-go-mode) and gopls', emacs !== null && realGopls !== null)), timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t);
  const initEl = path.join(dir, 'init.el');
  fs.writeFileSync(initEl, recipe('Emacs', 'elisp'));
  // A copy of the module outside any git repository, so eglot's project (project.el: the VC
  // root, else the file's directory) is the module, as in a user's checkout of it.
  const mod = path.join(dir, 'gomod');
  fs.cpSync(goFixture, mod, { recursive: true });
  const file = path.join(mod, 'main.go');
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf('g.Greet("world")') + 3;
  const before = text.slice(0, at);
  const out = path.join(dir, 'probe.json');
  const logDir = path.join(dir, 'state', 'lsptap');
  const env = {
    ...process.env,
    PATH: pathWithLsptap(dir),
    HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'),
    PROBE_OUT: out,
    PROBE_FILE: file,
    PROBE_POSITION: JSON.stringify({ line: before.split('\n').length - 1, character: at - (before.lastIndexOf('\n') + 1) }),
  };
  // --batch implies -q, which skips the two things an interactive start does before the user's
  // code runs: activating installed packages (eglot and go-mode on Emacs 28) and the init file.
  const editor = start(t, emacs!, ['--batch', '-f', 'package-activate-all', '-l', initEl, '-l', path.join(fixtures, 'emacs', 'recipe-probe.el')], { cwd: mod, env, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.deepEqual(await editor.exited, { code: 0, signal: null }, editor.stderr());
  const { got, lines } = checkProbe(out, logDir, editor.stderr());
  assert.match(got.mode ?? '', /^go(-ts)?-mode$/);
  const seen = (dir: string, kind: string, method: string): boolean => messages(lines).some((l) => l.dir === dir && l.kind === kind && l.method === method);
  for (const [d, kind, method] of [['c2s', 'request', 'initialize'], ['s2c', 'response', 'initialize'], ['c2s', 'request', 'textDocument/hover'], ['s2c', 'response', 'textDocument/hover'], ['c2s', 'request', 'shutdown'], ['s2c', 'response', 'shutdown'], ['c2s', 'notification', 'exit']]) {
    assert.ok(seen(d, kind, method), `${d} ${kind} ${method} is in the log`);
  }
  assert.equal(lines.find((l) => l.msg === 'session end')?.exitCode, 0);
});

test('every JSON recipe in docs/editors.md parses, and each names lsptap or its shim as the server command', () => {
  const section = recipes();
  const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, 'VS Code, Sublime Text and Zed');
  for (const b of blocks) {
    const text = JSON.stringify(JSON.parse(b));
    assert.match(text, /lsptap/, `names lsptap: ${b}`);
  }
});
