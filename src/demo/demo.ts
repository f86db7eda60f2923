// `lsptap demo`: a real gopls session on the Go standard library, through lsptap (the real
// binary, as an editor would start it), ending with lsptap's per-method summary table.
// `--server NAME` runs the same kind of session with another installed server on a small
// project made for it (server-projects.ts).

import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { choice, flag, parseCommand, printUsage, text, whole, type CommandSpec } from '../command/command-args';
import { answerServerRequests, goRootSrc, runGoplsScript, type ScriptStep } from './gopls-script';
import { PROJECT_SERVERS, SERVER_COMMANDS, SERVER_PROJECTS, runProjectScript, writeProject, type ProjectServer } from './server-projects';
import { searchPath } from '../dropin/find-server';

const DEMO_SERVERS: readonly ('gopls' | ProjectServer)[] = ['gopls', ...PROJECT_SERVERS];

/** Why `name`'s server cannot run here (one line), or null. */
function notInstalled(name: ProjectServer): string | null {
  const bin = SERVER_COMMANDS[name][0];
  const found = searchPath(bin, process.env.PATH ?? '', () => false);
  if (found === null) return `${bin} is not installed (not on PATH)`;
  if (name === 'tsc') {
    // TypeScript 5's tsc has no language server; 7's (the native port) has `--lsp`.
    const version = (() => { try { return execFileSync(found, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim(); } catch { return '?'; } })();
    if (!/Version ([7-9]|\d{2,})\./.test(version)) return `${found} is not TypeScript 7's (${version}); --server tsc needs npm's typescript@7 (tsc --lsp)`;
  }
  return null;
}

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
    server: choice('NAME', DEMO_SERVERS, 'gopls', 'run the session on another server found on PATH, on a small project (default gopls)'),
  },
} as const satisfies CommandSpec;

export async function runDemo(argv: string[]): Promise<number> {
  const parsed = parseCommand(DEMO_COMMAND, argv);
  if (parsed.help) return printUsage(DEMO_COMMAND);
  const values = parsed.values;
  const server = values.server;
  const missing = server === 'gopls' ? null : notInstalled(server);
  if (missing !== null) {
    process.stderr.write(`lsptap demo: ${missing}; install it, or run the demo on gopls (the default)\n`);
    return 1;
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-demo-'));
  const logPath = values.log ?? path.join(workDir, 'session.jsonl');
  const lsptap = path.join(__dirname, '..', '..', '..', 'bin', 'lsptap');
  // --bodies records a session `lsptap replay` can play again.
  const own = ['--summary', '--log', logPath, ...(values.bodies ? ['--bodies'] : [])];
  let cwd: string, command: string[];
  if (server === 'gopls') {
    cwd = goRootSrc();
    command = [values.gopls ?? 'gopls'];
    process.stderr.write(`lsptap demo: gopls on ${cwd}, opening net/http/server.go\n`);
  } else {
    cwd = path.join(workDir, 'project');
    fs.mkdirSync(cwd);
    writeProject(cwd, SERVER_PROJECTS[server]);
    command = SERVER_COMMANDS[server];
    process.stderr.write(`lsptap demo: ${command.join(' ')} on a small project in ${cwd}, opening ${SERVER_PROJECTS[server].open}\n`);
  }
  const child = spawn(process.execPath, [lsptap, ...own, '--', ...command], { cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  answerServerRequests(conn);
  conn.listen();
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0))));
  // lsptap relays from the first byte while its probes load: the script waits until they
  // watch (or are off), so that every message of the demo has its kernel fields.
  await kernelDecided(logPath, exited);
  let steps: ScriptStep[];
  if (server === 'gopls') steps = await runGoplsScript(conn, cwd, values.rounds);
  else {
    steps = (await runProjectScript(conn, cwd, SERVER_PROJECTS[server])).steps;
    child.stdin.end(); // some servers leave on stdin's end rather than on exit alone
  }
  const code = await exited;
  conn.dispose();
  process.stderr.write('\nwhat the editor saw:\n');
  for (const s of steps) process.stderr.write(`  ${s.ok ? 'ok ' : 'ERR'} ${s.method.padEnd(28)} ${s.ms.toFixed(1).padStart(9)} ms  ${s.detail}\n`);
  process.stderr.write(`\nfull log: ${logPath}\n`);
  return steps.every((s) => s.ok) ? code : 1;
}

/** Until the log says kernel timing is on or off, lsptap has exited, or 10 s have passed. */
async function kernelDecided(logPath: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => { done = true; });
  for (const until = Date.now() + 10_000; !done && Date.now() < until;) {
    let text = '';
    try { text = fs.readFileSync(logPath, 'utf8'); } catch { /* not yet */ }
    if (text.includes('"msg":"kernel timing on"') || text.includes('"msg":"kernel timing off"')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
