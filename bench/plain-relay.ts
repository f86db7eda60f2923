// `node plain-relay.js COMMAND ARGS...`: the floor for any proxy written on Node. Relays
// stdin to the child and the child's stdout to stdout with stream.pipe(): the same reads,
// writes and backpressure (pause on a full writer, resume on drain) as lsptap's relay, but
// no framing, no timestamps and no logging. Exits with the child's code (128+N for signal N).

import { spawn } from 'node:child_process';
import os from 'node:os';

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('usage: plain-relay COMMAND [ARGS...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.stdin.on('error', () => { /* the child went away; its exit follows */ });
process.stdout.on('error', () => child.stdin.end());
child.on('error', (err) => { process.stderr.write(`plain-relay: ${err.message}\n`); process.exit(127); });
child.on('exit', (code, signal) => {
  const exitCode = code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : 1);
  const done = (): void => {
    if (process.stdout.writableLength === 0) process.exit(exitCode);
    process.stdout.once('drain', () => process.exit(exitCode));
  };
  if (child.stdout.readableEnded) done();
  else child.stdout.once('end', done);
  setTimeout(() => process.exit(exitCode), 2000).unref();
});
