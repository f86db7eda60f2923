// What naming frames holds in memory, measured as bytes kept after a full GC in a child
// process (heap and array buffers), not by time: node's own unstripped binary (110,000
// symbols, 7.5 MB of names in its .strtab) and /proc/kallsyms (120,000 kernel text symbols).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ElfFile } from '../src/symbols';
import { repoRoot } from './helpers';

const SYMBOLS = path.join(repoRoot, 'dist', 'src', 'symbols');

interface Held { keptBytes: number; functions: number; nameBytes: number; heldBytes: number; named: number }

/** Runs script in a node with --expose-gc; it prints one JSON line. */
function measure(script: string, ...args: string[]): Held {
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', script, SYMBOLS, ...args], { encoding: 'utf8' });
  return JSON.parse(out) as Held;
}

// Bytes kept after GC (heap used and array buffers), around building and using the table.
const PRELUDE = `
const symbols = require(process.argv[1]);
const settle = () => { for (let i = 0; i < 4; i++) global.gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
`;

test('node\'s unstripped binary is named from an index of about 20 bytes a function: its 7.5 MB of names stay in the file until a lookup asks', (t) => {
  const elf = ElfFile.open(process.execPath);
  const symtab = elf.section('.symtab');
  const strtab = symtab ? elf.sections[symtab.link] : null;
  elf.close();
  assert.ok(symtab && strtab && strtab.size > 1 << 20, `${process.execPath} has a .symtab and names (an unstripped node)`);
  const held = measure(`${PRELUDE}
    const before = settle();
    const b = symbols.BinarySymbols.open(process.argv[2]);
    const t = b.elfSymbols;
    const text = symbols.ElfFile.open(process.argv[2]).section('.text');
    let named = 0;
    for (let i = 0; i < 2000; i++) if (b.lookup(text.addr + Math.floor((text.size * i) / 2000)).fn !== null) named++;
    const keptBytes = settle() - before;
    process.stdout.write(JSON.stringify({ keptBytes, functions: t.functionCount, heldBytes: b.heldBytes, named }));
  `, process.execPath);
  t.diagnostic(`kept ${held.keptBytes} bytes for ${held.functions} functions (.symtab ${symtab.size} + .strtab ${strtab.size} bytes)`);
  assert.ok(held.functions > 50_000, `${held.functions} functions indexed`);
  assert.ok(held.named > 1000, `${held.named} of 2000 pcs named`);
  // The index (start, end, name offset: 20 bytes, on arrays sized to the function symbols
  // before aliases are dropped), the names of 2000 lookups, and 1 MiB for the rest.
  const bound = 32 * held.functions + (1 << 20);
  assert.ok(held.keptBytes < bound, `kept ${held.keptBytes} bytes, bound ${bound} (${held.functions} functions)`);
  assert.ok(held.keptBytes < strtab.size, `kept ${held.keptBytes} bytes: less than the names alone (${strtab.size})`);
  assert.ok(held.heldBytes <= held.keptBytes + (1 << 20), `heldBytes ${held.heldBytes} is about what was kept (${held.keptBytes})`);
});

test('the kernel\'s symbols are held as their names\' bytes and 14 bytes a symbol, not a string and an object per line', { skip: kallsymsReadable() ? false : '/proc/kallsyms shows zero addresses (needs root or CAP_SYSLOG)' }, (t) => {
  const held = measure(`${PRELUDE}
    const before = settle();
    const k = new symbols.KernelSymbols();
    k.lookup(0xffffffff81000000n);
    const keptBytes = settle() - before;
    process.stdout.write(JSON.stringify({ keptBytes, functions: k.count, heldBytes: k.heldBytes }));
  `);
  const text = fs.readFileSync('/proc/kallsyms', 'latin1');
  let nameBytes = 0, symbols = 0;
  for (const m of text.matchAll(/^[0-9a-f]+ [tTwW] (\S+)/gm)) { nameBytes += m[1].length; symbols++; }
  t.diagnostic(`kept ${held.keptBytes} bytes for ${held.functions} symbols (${text.length} bytes of text)`);
  assert.ok(held.functions > symbols * 0.9, `${held.functions} of ${symbols} text symbols`);
  // Names in 1 MiB blocks (the last one part full), 14 bytes a symbol on arrays grown by
  // doubling (up to twice that), and 1 MiB for the rest.
  const bound = nameBytes + (1 << 20) + 28 * symbols + (1 << 20);
  assert.ok(held.keptBytes < bound, `kept ${held.keptBytes} bytes, bound ${bound} (${symbols} symbols, ${nameBytes} bytes of names)`);
  assert.ok(held.keptBytes < text.length, `kept ${held.keptBytes} bytes: less than the text itself (${text.length})`);
});

function kallsymsReadable(): boolean {
  try {
    return !/^0+ /.test(fs.readFileSync('/proc/kallsyms', 'latin1').slice(0, 40));
  } catch {
    return false;
  }
}
