// How often the idle drain reads the profiler's kernel maps: rarely enough that the
// reads (each walks every bucket of the maps) cost little, often enough that the maps
// never fill between two reads on any machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idleReadInterval } from '../src/probes/profile-stage';

test('the idle drain reads the profile maps every 5 s on 2 CPUs at 99 Hz, and before a quarter of them can fill on many CPUs', () => {
  assert.equal(idleReadInterval(4096, 2, 99), 5000);
  // 64 CPUs at 99 Hz could add 6,336 entries a second: read at the 0.5 s floor, 3,168 at most.
  assert.equal(idleReadInterval(4096, 64, 99), 500);
  // In between, a quarter of the entries at one new entry per CPU tick.
  assert.equal(idleReadInterval(4096, 8, 99), (1000 * 1024) / (8 * 99));
  assert.ok(idleReadInterval(4096, 8, 99) * 8 * 99 / 1000 <= 1024);
});
