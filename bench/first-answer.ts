// The editor's first answer: from spawning a command line to the response to `initialize`,
// gopls on a one-file module (what an editor waits for before anything else works). The
// arms run interleaved, each round in a rotated order, so machine noise hits all alike.
// NODE_EXTRA_CA_CERTS is removed from the arms' environment: it costs every Node start
// ~90 ms here and users do not have it.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WireReader, frameOf } from './lsp-wire';

/** A one-file Go module in dir (made once), for gopls to answer `initialize` about. */
export function oneFileModule(dir: string): string {
  const root = path.join(dir, 'first-answer-module');
  if (!fs.existsSync(root)) {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'go.mod'), 'module example.com/hello\n\ngo 1.19\n');
    fs.writeFileSync(path.join(root, 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n');
  }
  return root;
}

/** The environment the arms run in: ours without NODE_EXTRA_CA_CERTS. */
export function armEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Spawn cmd in root, send `initialize`, resolve with the ms from spawn to its response; then shut it down. */
export function firstAnswerMs(cmd: string[], root: string, timeoutMs = 30_000): Promise<number> {
  const init = frameOf(JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { processId: process.pid, rootUri: `file://${root}`, capabilities: {}, workspaceFolders: [{ uri: `file://${root}`, name: 'hello' }] },
  }));
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd[0], cmd.slice(1), { cwd: root, env: armEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
    let answeredMs: number | null = null;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`first answer: ${cmd.join(' ')} did not answer initialize in ${timeoutMs} ms`)); }, timeoutMs);
    const reader = new WireReader((body) => {
      if (answeredMs !== null || body === null || !/"id":\s*1[,}]/.test(body.toString('latin1', 0, Math.min(body.length, 4096)))) return;
      answeredMs = Number(process.hrtime.bigint() - t0) / 1e6;
      child.stdin.write(frameOf('{"jsonrpc":"2.0","id":2,"method":"shutdown"}'));
      child.stdin.write(frameOf('{"jsonrpc":"2.0","method":"exit"}'));
      child.stdin.end();
    });
    child.stdout.on('data', (c: Buffer) => reader.push(c));
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', () => {
      clearTimeout(timer);
      if (answeredMs === null) reject(new Error(`first answer: ${cmd.join(' ')} exited before answering initialize`));
      else resolve(answeredMs);
    });
    child.stdin.write(init);
  });
}

export interface Arm { name: string; cmd: string[] }

/** rounds × arms, interleaved and rotated; ms per arm in round order. */
export async function firstAnswers(arms: Arm[], root: string, rounds: number, say: (s: string) => void = () => undefined): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(arms.map((a) => [a.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < arms.length; i++) {
      const arm = arms[(i + r) % arms.length];
      const ms = await firstAnswerMs(arm.cmd, root);
      out.get(arm.name)!.push(ms);
      say(`first answer round ${r + 1}/${rounds} ${arm.name.padEnd(16)} ${ms.toFixed(1)} ms`);
    }
  }
  return out;
}
