// Every command speaks the same way (src/command/command-args.ts), through the real
// bin/lsptap: `lsptap COMMAND --help` prints that command's usage and exits 0; an unknown
// option or a bad value exits 2 with one line naming the command, then the usage, and does
// nothing else (no directory made, no session started).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { lsptapBin, tmpDir } from './helpers/index';

/** Run bin/lsptap in `cwd` with stdin closed; what it printed and its exit code. */
function lsptap(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [lsptapBin, ...args], { encoding: 'utf8', cwd, input: '', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The subcommands `lsptap --help` lists, as `lsptap NAME ...` synopsis lines. */
function subcommands(): string[] {
  const help = lsptap(['--help']).stdout;
  return [...new Set([...help.matchAll(/^(?:usage:| ) +lsptap ([a-z][a-z-]*)\b/gm)].map((m) => m[1]))];
}

test('lsptap --help lists every subcommand', () => {
  assert.deepEqual(subcommands().sort(), ['demo', 'diff', 'install-shim', 'profile', 'replay', 'report', 'top']);
});

for (const command of ['', ...subcommands()]) {
  const name = command === '' ? 'lsptap' : `lsptap ${command}`;
  const words = command === '' ? [] : [command];

  test(`${name} --help prints its usage on stdout and exits 0`, () => {
    const r = lsptap([...words, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith(`usage: ${name} `), r.stdout);
    assert.match(r.stdout, /^ {2}--help {2,}print this usage/m);
  });

  test(`${name} with an unknown option exits 2 with one line naming the command, then its usage, and does nothing`, (t) => {
    const cwd = tmpDir(t);
    const r = lsptap([...words, '--nope', ...(command === '' ? ['--', 'true'] : [])], cwd);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    const [first, blank, ...usage] = r.stderr.split('\n');
    assert.equal(first, `${name}: unknown option --nope`);
    assert.equal(blank, '');
    assert.ok(usage.join('\n').startsWith(`usage: ${name} `), r.stderr);
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing was made in the working directory');
  });
}

for (const [command, option] of [['', '--grace-ms'], ['', '--bodies-max'], ['demo', '--rounds'], ['report', '--slowest'], ['top', '--slow-ms'], ['top', '--interval-ms'], ['replay', '--wait-ms'], ['profile', '--slowest']]) {
  const name = command === '' ? 'lsptap' : `lsptap ${command}`;
  test(`${name} ${option} takes only a whole number: "1.5" exits 2 with one line and the usage`, () => {
    const r = lsptap([...(command === '' ? [] : [command]), `${option}=1.5`, ...(command === '' || command === 'replay' ? ['--', 'true'] : [])]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], new RegExp(`^${name}: ${option} needs a whole number( from \\d+)?, got "1\\.5"$`));
    assert.match(r.stderr, new RegExp(`\\n\\nusage: ${name} `));
  });
}

test('lsptap --bpf takes only auto, off or require', () => {
  const r = lsptap(['--bpf', 'maybe', '--', 'true']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.split('\n')[0], 'lsptap: --bpf needs auto, off or require, got "maybe"');
});

test('lsptap install-shim without a directory is a usage error, and makes nothing', (t) => {
  const cwd = tmpDir(t);
  const r = lsptap(['install-shim'], cwd);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^lsptap install-shim: give the directory/);
  assert.deepEqual(fs.readdirSync(cwd), []);
});
