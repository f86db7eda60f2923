// `lsptap demo`: a real gopls session on the Go standard library, through lsptap (the real
// binary, as an editor would start it), ending with lsptap's per-method summary table.

import { spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { flag, parseCommand, printUsage, text, whole, type CommandSpec } from '../command/command-args';
import { answerServerRequests, goRootSrc, runGoplsScript } from './gopls-script';

export const DEMO_COMMAND = {
  name: 'lsptap demo',
  synopsis: ['lsptap demo [options]'],
  about: 'A scripted gopls session on the Go standard library (net/http/server.go) through lsptap, as an editor would start it, with --summary: symbols, hovers, definitions, references and a completion after an edit.',
  positionals: false,
  splitAtDashes: false,
  options: {
    log: text('PATH', 'the session\'s log (default: session.jsonl in a new temporary directory)'),
    rounds: whole('N', 1, 'run the script\'s requests N times (default 1)'),
    bodies: flag('log bodies, so lsptap replay can play the session again'),
    gopls: text('PATH', 'the gopls to start (default: gopls on PATH)'),
  },
} as const satisfies CommandSpec;

export async function runDemo(argv: string[]): Promise<number> {
  const parsed = parseCommand(DEMO_COMMAND, argv);
  if (parsed.help) return printUsage(DEMO_COMMAND);
  const values = parsed.values;
  const logPath = values.log ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-demo-')), 'session.jsonl');
  const srcRoot = goRootSrc();
  const lsptap = path.join(__dirname, '..', '..', '..', 'bin', 'lsptap');
  process.stderr.write(`lsptap demo: gopls on ${srcRoot}, opening net/http/server.go\n`);
  // --bodies records a session `lsptap replay` can play again.
  const own = ['--summary', '--log', logPath, ...(values.bodies ? ['--bodies'] : [])];
  const child = spawn(process.execPath, [lsptap, ...own, '--', values.gopls ?? 'gopls'], { cwd: srcRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  answerServerRequests(conn);
  conn.listen();
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0))));
  const steps = await runGoplsScript(conn, srcRoot, values.rounds);
  const code = await exited;
  conn.dispose();
  process.stderr.write('\nwhat the editor saw:\n');
  for (const s of steps) process.stderr.write(`  ${s.ok ? 'ok ' : 'ERR'} ${s.method.padEnd(28)} ${s.ms.toFixed(1).padStart(9)} ms  ${s.detail}\n`);
  process.stderr.write(`\nfull log: ${logPath}\n`);
  return steps.every((s) => s.ok) ? code : 1;
}
