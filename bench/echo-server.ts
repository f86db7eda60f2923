// A minimal LSP-framed echo server for the benchmark. Requests get a response whose
// `result` is their `params`; a `textDocument/didOpen` notification (of any size) gets a
// small `textDocument/publishDiagnostics` back, as gopls sends after opening a file; `exit`
// or the end of stdin ends it. Responses produced by one chunk go out in one write.

import { WireReader, frameOf } from './lsp-wire';

const SMALL_MAX = 64 * 1024;
const METHOD_RE = /"method"\s*:\s*"([^"]*)"/;

const out: Buffer[] = [];

function onMessage(body: Buffer | null, bodyBytes: number, prefix: Buffer): void {
  if (body === null) {
    // Large: only the prefix is kept; the benchmark's large messages are didOpen notifications.
    const m = METHOD_RE.exec(prefix.toString('latin1'));
    if (m !== null && m[1] === 'textDocument/didOpen') out.push(diagnostics(bodyBytes));
    return;
  }
  const msg = JSON.parse(body.toString('utf8')) as { id?: number | string; method?: string; params?: unknown };
  if (msg.method === undefined) return; // a response to us: none expected
  if (msg.id !== undefined) {
    out.push(frameOf(`{"jsonrpc":"2.0","id":${JSON.stringify(msg.id)},"result":${JSON.stringify(msg.params ?? null)}}`));
  } else if (msg.method === 'textDocument/didOpen') {
    out.push(diagnostics(bodyBytes));
  } else if (msg.method === 'exit') {
    flush();
    process.exit(0);
  }
}

function diagnostics(bodyBytes: number): Buffer {
  return frameOf(`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///bench/big.go","diagnostics":[],"receivedBytes":${bodyBytes}}}`);
}

function flush(): void {
  if (out.length === 0) return;
  process.stdout.write(out.length === 1 ? out[0] : Buffer.concat(out));
  out.length = 0;
}

const reader = new WireReader(onMessage, SMALL_MAX);
process.stdin.on('data', (chunk: Buffer) => { reader.push(chunk); flush(); });
process.stdin.on('end', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
