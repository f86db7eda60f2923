// The benchmark's client for the echo server: spawns a mode's command line, sends framed
// requests and notifications, and resolves each request when its response arrives.

import { spawn, type ChildProcess } from 'node:child_process';
import { WireReader, frameOf } from './lsp-wire';

export class EchoClient {
  readonly child: ChildProcess;
  private readonly waiting = new Map<number, () => void>();
  private notificationWaiter: ((bodyBytes: number) => void) | null = null;
  private stderr = '';
  private readonly exited: Promise<number>;
  /** Bytes received from the server side. */
  bytesIn = 0;
  responses = 0;
  private onEveryResponse: (() => void) | null = null;

  constructor(command: string[], cwd?: string) {
    this.child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd });
    const reader = new WireReader((body, bodyBytes) => this.onMessage(body, bodyBytes), 64 * 1024);
    this.child.stdout!.on('data', (chunk: Buffer) => { this.bytesIn += chunk.length; reader.push(chunk); });
    this.child.stderr!.on('data', (chunk: Buffer) => { if (this.stderr.length < 4096) this.stderr += chunk.toString(); });
    this.child.stdin!.on('error', () => { /* reported through exit */ });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, sig) => resolve(code ?? (sig !== null ? 128 : 1))));
  }

  get pid(): number { return this.child.pid ?? -1; }

  private onMessage(body: Buffer | null, bodyBytes: number): void {
    if (body === null) return;
    // Responses start with {"jsonrpc":"2.0","id":N: read N without parsing the rest.
    const text = body.toString('latin1', 0, Math.min(body.length, 64));
    const m = /"id":(\d+)/.exec(text);
    if (m !== null && /"method"/.test(text) === false) {
      this.responses++;
      const id = Number(m[1]);
      const w = this.waiting.get(id);
      if (w !== undefined) { this.waiting.delete(id); w(); }
      this.onEveryResponse?.();
      return;
    }
    const waiter = this.notificationWaiter;
    if (waiter !== null) { this.notificationWaiter = null; waiter(bodyBytes); }
  }

  /** Send one frame and resolve when the response with this id arrives. */
  request(id: number, frame: Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(frame);
    });
  }

  /** Send many frames at once and resolve when `count` more responses have arrived. */
  pipelined(frames: Buffer, count: number): Promise<void> {
    const target = this.responses + count;
    return new Promise((resolve) => {
      this.onEveryResponse = () => { if (this.responses >= target) { this.onEveryResponse = null; resolve(); } };
      this.child.stdin!.write(frames);
    });
  }

  /** Send one notification and resolve when the server's next notification arrives. */
  notifyAndAwaitNotification(frame: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.notificationWaiter = resolve;
      this.child.stdin!.write(frame);
    });
  }

  /** Close our end and wait for the process to exit; rejects on a non-zero exit. */
  async close(): Promise<void> {
    this.child.stdin!.end(frameOf('{"jsonrpc":"2.0","method":"exit"}'));
    const code = await this.exited;
    if (code !== 0) throw new Error(`${this.child.spawnargs.join(' ')} exited ${code}: ${this.stderr.trim()}`);
  }

  kill(): void { this.child.kill('SIGKILL'); }
}

/** A small hover-shaped request, about 140 bytes. */
export function smallRequest(id: number): Buffer {
  return frameOf(`{"jsonrpc":"2.0","id":${id},"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///bench/main.go"},"position":{"line":${id % 5000},"character":12}}}`);
}

/** A didOpen notification whose body is about `bytes` long: Go-like text, JSON-escaped. */
export function didOpenOf(bytes: number): Buffer {
  const head = '{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///bench/big.go","languageId":"go","version":1,"text":"';
  const tail = '"}}}';
  const line = '\\tfmt.Println(\\"hello, lsptap\\", i) // a line of a large generated Go file\\n';
  const n = Math.max(0, bytes - head.length - tail.length);
  const text = line.repeat(Math.ceil(n / line.length)).slice(0, n).replace(/\\+$/, '');
  return frameOf(head + text.padEnd(n, ' ') + tail);
}
