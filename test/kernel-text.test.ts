// The sentences people read for a slow request, from the kernel fields of a record.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest, childName, formatFdReport } from '../src/sinks/kernel-text';
import type { KernelChild } from '../src/model/record';

const child = (args: string[], wallUs: number): KernelChild => ({ pid: 1, comm: args[0], path: `/usr/bin/${args[0]}`, args, wallUs, cpuUs: 1, exitCode: 0, signal: null });

test('a request that waited for go list and the disk reads as one sentence naming both', () => {
  const line = explainRequest('textDocument/documentSymbol', 3027.4, {
    serverUs: 3_000_000, serverCpuUs: 751_000, serverRunqUs: 0, serverBlockedUs: 2_373_000, blockedOnChildUs: 2_135_000,
    blockedOnDiskUs: 238_000, blockedOtherUs: 0, childCpuUs: 2_585_000, diskIos: 7072, diskIoBytes: 82e6,
    children: [child(['go', 'version'], 10), child(['go', 'list', '-json'], 2_000_000)],
  }, 'gopls');
  assert.equal(line, 'textDocument/documentSymbol 3,027 ms: gopls waited 2,135 ms for go list and 1 other (2,585 ms CPU), 238 ms for the disk (7,072 reads, 82 MB); 751 ms on its own CPU');
});

test('a sleep reads as a wait on a timer, and a request without a server window gets no sentence', () => {
  assert.equal(explainRequest('test/sleep', 201, { serverUs: 200_500, serverCpuUs: 400, serverBlockedUs: 200_000, blockedOnChildUs: 0, blockedOnDiskUs: 0, blockedOtherUs: 200_000, blockedOtherOn: 'timer' }),
    'test/sleep 201 ms: the server waited 200 ms on a timer; 0.4 ms on its own CPU');
  assert.equal(explainRequest('x', 1, { serverUs: null }), null);
});

test('children are named by program and subcommand', () => {
  assert.equal(childName(child(['go', 'list', '-e'], 1)), 'go list');
  assert.equal(childName({ ...child(['/usr/lib/go/pkg/tool/linux_amd64/compile', '-V=full'], 1) }), 'compile');
});

test('the fd report lists each fd left open with its request', () => {
  assert.equal(formatFdReport({ startCount: 7, peakCount: 30, endCount: 27, growth: { rises: 20, from: 7, to: 27 }, stillOpen: [{ fd: 9, path: '/tmp/a', atMs: 12.5, method: 'test/open', id: 3 }] }),
    'server fds: 7 at start, 30 at peak, 27 at the end; it kept growing (7 -> 27 over 20 requests)\n  fd 9 /tmp/a opened at 12.5 ms during test/open 3, still open\n');
});
