// The editing day's language server (bench/day.ts): answers as gopls would in shape and
// size, instantly, so a day of traffic fits in minutes. Completion (30 items, ~4 KB), hover
// (~400 B of markdown), definition (a location); publishDiagnostics after every second
// didChange and after each didOpen; a completion cancelled before it was answered gets
// RequestCancelled (-32800), as gopls answers. Completions are answered after the chunk
// they came in (setImmediate), so a cancel in the same write catches them. `exit` or the
// end of stdin ends it.

import { WireReader, frameOf } from './lsp-wire';

const METHOD_RE = /"method":"([^"]*)"/;
const ID_RE = /"id":(\d+)/;
const URI_RE = /"uri":"([^"]*)"/;

const out: Buffer[] = [];
const pendingCompletions: number[] = [];
const cancelled = new Set<number>();
let changes = 0;

const COMPLETION_ITEMS = JSON.stringify(Array.from({ length: 30 }, (_, i) => ({
  label: `Println${i}`, kind: 3, detail: `func(a ...any) (n int, err error)`, sortText: String(i).padStart(5, '0'),
  filterText: `Println${i}`, insertTextFormat: 2, textEdit: { range: { start: { line: 10, character: 5 }, end: { line: 10, character: 8 } }, newText: `Println${i}(\${1:})` },
})));
const HOVER = JSON.stringify({ contents: { kind: 'markdown', value: `\`\`\`go\nfunc fmt.Println(a ...any) (n int, err error)\n\`\`\`\n\n${'Println formats using the default formats for its operands and writes to standard output. '.repeat(4)}` }, range: { start: { line: 10, character: 5 }, end: { line: 10, character: 12 } } });

function diagnostics(uri: string, n: number): Buffer {
  const items = Array.from({ length: n }, (_, i) => ({ range: { start: { line: i * 7, character: 1 }, end: { line: i * 7, character: 9 } }, severity: 1, source: 'compiler', message: `undefined: x${i}` }));
  return frameOf(`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"${uri}","version":${changes},"diagnostics":${JSON.stringify(items)}}}`);
}

function answerCompletions(): void {
  for (const id of pendingCompletions) {
    if (cancelled.delete(id)) out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"error":{"code":-32800,"message":"request cancelled"}}`));
    else out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"result":{"isIncomplete":true,"items":${COMPLETION_ITEMS}}}`));
  }
  pendingCompletions.length = 0;
  cancelled.clear(); // a cancel for an answered request changes nothing
  flush();
}

function onMessage(body: Buffer | null, _bodyBytes: number, prefix: Buffer): void {
  const head = (body ?? prefix).toString('latin1', 0, Math.min((body ?? prefix).length, 160));
  const method = METHOD_RE.exec(head)?.[1];
  const id = Number(ID_RE.exec(head)?.[1] ?? -1);
  switch (method) {
    case 'textDocument/completion': pendingCompletions.push(id); break;
    case 'textDocument/hover': out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"result":${HOVER}}`)); break;
    case 'textDocument/definition':
      out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"result":[{"uri":"file:///day/fmt/print.go","range":{"start":{"line":273,"character":5},"end":{"line":273,"character":12}}}]}`));
      break;
    case '$/cancelRequest': {
      const m = /"params":\{"id":(\d+)/.exec((body ?? prefix).toString('latin1'));
      if (m !== null) cancelled.add(Number(m[1]));
      break;
    }
    case 'textDocument/didChange':
      if (++changes % 2 === 0) out.push(diagnostics(URI_RE.exec(head)?.[1] ?? 'file:///day/main.go', changes % 4));
      break;
    case 'textDocument/didOpen': out.push(diagnostics(URI_RE.exec(head)?.[1] ?? 'file:///day/main.go', 2)); break;
    case 'shutdown': out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"result":null}`)); break;
    case 'initialize': out.push(frameOf(`{"jsonrpc":"2.0","id":${id},"result":{"capabilities":{"completionProvider":{},"hoverProvider":true,"definitionProvider":true}}}`)); break;
    case 'exit': answerCompletions(); process.exit(0);
  }
}

function flush(): void {
  if (out.length === 0) return;
  process.stdout.write(out.length === 1 ? out[0] : Buffer.concat(out));
  out.length = 0;
}

const reader = new WireReader(onMessage, 64 * 1024);
process.stdin.on('data', (chunk: Buffer) => {
  reader.push(chunk);
  flush();
  if (pendingCompletions.length > 0) setImmediate(answerCompletions);
});
process.stdin.on('end', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
