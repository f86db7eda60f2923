// Small projects for the language servers beyond gopls, written into a directory on the fly,
// and the editor's script on them: initialize, open a file, hover, definition, document
// symbols, an edit and a completion after it, shutdown, exit. `lsptap demo --server NAME`
// runs it through lsptap; the real-server tests run it both directly and through lsptap and
// compare the answers.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import {
  InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification, DidChangeTextDocumentNotification,
  HoverRequest, DefinitionRequest, DocumentSymbolRequest, CompletionRequest, ShutdownRequest, ExitNotification, CompletionTriggerKind, type Position,
} from 'vscode-languageserver-protocol/node';
import type { ScriptStep } from './gopls-script';

export type ProjectServer = 'clangd' | 'pylsp' | 'bash-language-server' | 'typescript-language-server' | 'tsc';

export const PROJECT_SERVERS: readonly ProjectServer[] = ['clangd', 'pylsp', 'bash-language-server', 'typescript-language-server', 'tsc'];

/** A place in the opened file: the first `needle`, `delta` characters in. */
interface Anchor { needle: string; delta: number }

export interface ServerProject {
  languageId: string;
  files: Record<string, string>;
  open: string;
  hover: Anchor;
  definition: Anchor;
  /** Inserted at the end of the file, then completion is asked at its end. */
  typed: string;
  initializationOptions?: Record<string, unknown>;
}

const TS_PROJECT: ServerProject = {
  languageId: 'typescript',
  files: {
    'tsconfig.json': '{ "compilerOptions": { "strict": true, "target": "es2022" }, "include": ["*.ts"] }\n',
    'shapes.ts': 'export interface Rect { width: number; height: number }\n\n/** Width times height. */\nexport function area(r: Rect): number {\n  return r.width * r.height;\n}\n',
    'main.ts': "import { area, type Rect } from './shapes';\n\nconst r: Rect = { width: 2, height: 3 };\nconsole.log(area(r));\n",
  },
  open: 'main.ts',
  hover: { needle: 'area(r)', delta: 1 },
  definition: { needle: 'area(r)', delta: 1 },
  typed: 'r.',
};

export const SERVER_PROJECTS: Record<ProjectServer, ServerProject> = {
  clangd: {
    languageId: 'c',
    files: {
      // Without it clangd guesses flags and says so in a warning on stderr.
      'compile_flags.txt': '-std=c11\n',
      'shapes.h': '#ifndef SHAPES_H\n#define SHAPES_H\nstruct rect { int width; int height; };\nint rect_area(struct rect r);\n#endif\n',
      'main.c': '#include "shapes.h"\n\nint rect_area(struct rect r) { return r.width * r.height; }\n\nint main(void) {\n  struct rect r = { 2, 3 };\n  return rect_area(r);\n}\n',
    },
    open: 'main.c',
    hover: { needle: 'rect_area(r);', delta: 1 },
    definition: { needle: 'rect_area(r);', delta: 1 },
    typed: 'int width_of(struct rect q) { return q.',
  },
  pylsp: {
    languageId: 'python',
    files: {
      'shapes.py': 'class Rect:\n    """A rectangle."""\n\n    def __init__(self, width, height):\n        self.width = width\n        self.height = height\n\n    def area(self):\n        """Width times height."""\n        return self.width * self.height\n',
      'main.py': 'from shapes import Rect\n\n\ndef total(rects):\n    return sum(r.area() for r in rects)\n\n\nr = Rect(2, 3)\nprint(total([r]))\n',
    },
    open: 'main.py',
    hover: { needle: 'Rect(2', delta: 1 },
    definition: { needle: 'Rect(2', delta: 1 },
    typed: 'r.',
  },
  'bash-language-server': {
    languageId: 'shellscript',
    files: { 'main.sh': '#!/usr/bin/env bash\ngreeting="hello"\n\ngreet() {\n  echo "$greeting, $1"\n}\n\ngreet world\n' },
    open: 'main.sh',
    hover: { needle: 'greet world', delta: 1 },
    definition: { needle: 'greet world', delta: 1 },
    typed: 'echo "$greet',
  },
  // Its syntax-only tsserver answers while the full one loads the project, with partial
  // answers (hover 'import area', no completion) that depend on timing: ask the full one.
  'typescript-language-server': { ...TS_PROJECT, initializationOptions: { tsserver: { useSyntaxServer: 'never' } } },
  tsc: TS_PROJECT,
};

/** How each is started as installed on PATH (tsc: TypeScript 7's, whose tsc speaks LSP). */
export const SERVER_COMMANDS: Record<ProjectServer, string[]> = {
  clangd: ['clangd'],
  pylsp: ['pylsp'],
  'bash-language-server': ['bash-language-server', 'start'],
  'typescript-language-server': ['typescript-language-server', '--stdio'],
  tsc: ['tsc', '--lsp', '--stdio'],
};

/** Write the project into `dir` (which exists). */
export function writeProject(dir: string, project: ServerProject): void {
  for (const [name, text] of Object.entries(project.files)) fs.writeFileSync(path.join(dir, name), text);
}

function positionOf(text: string, a: Anchor): Position {
  const at = text.indexOf(a.needle);
  if (at < 0) throw new Error(`project: ${JSON.stringify(a.needle)} not in the file`);
  const before = text.slice(0, at + a.delta);
  return { line: before.split('\n').length - 1, character: before.length - (before.lastIndexOf('\n') + 1) };
}

export interface ProjectAnswer { method: string; result: unknown }

const countOf = (r: unknown): number => (Array.isArray(r) ? r.length : r !== null && typeof r === 'object' && Array.isArray((r as { items?: unknown }).items) ? (r as { items: unknown[] }).items.length : r ? 1 : 0);

/**
 * The editor's script on `project` in `dir` over a listening connection (whose server
 * requests are answered); ends with exit. Returns each step and each answer.
 */
/** afterInitialize: what to wait for once `initialize` is answered, before the rest (a test waits for kernel timing to watch). */
export async function runProjectScript(conn: MessageConnection, dir: string, project: ServerProject, opts: { afterInitialize?: () => Promise<unknown> } = {}): Promise<{ steps: ScriptStep[]; answers: ProjectAnswer[] }> {
  const steps: ScriptStep[] = [];
  const answers: ProjectAnswer[] = [];
  const step = async <T>(method: string, fn: () => Promise<T>, describe: (r: T) => string): Promise<T | undefined> => {
    const t0 = process.hrtime.bigint();
    try {
      const r = await fn();
      steps.push({ method, ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: true, detail: describe(r) });
      answers.push({ method, result: r });
      return r;
    } catch (err) {
      steps.push({ method, ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: false, detail: (err as Error).message });
      return undefined;
    }
  };
  const rootUri = pathToFileURL(dir).href;
  const file = path.join(dir, project.open);
  const uri = pathToFileURL(file).href;
  const text = project.files[project.open];
  const init = await step('initialize', () => conn.sendRequest(InitializeRequest.type, {
    processId: process.pid, rootUri, rootPath: dir, workspaceFolders: [{ uri: rootUri, name: path.basename(dir) }], initializationOptions: project.initializationOptions,
    capabilities: {
      workspace: { configuration: true, workspaceFolders: true },
      textDocument: {
        hover: { contentFormat: ['markdown', 'plaintext'] }, completion: { completionItem: { snippetSupport: false } },
        documentSymbol: { hierarchicalDocumentSymbolSupport: true }, synchronization: { didSave: true },
      },
    },
  }), (r) => `server ${r?.serverInfo?.name ?? '?'}`);
  // The server's version is no answer to compare.
  if (init !== undefined) answers[answers.length - 1].result = { capabilities: init.capabilities };
  await opts.afterInitialize?.();
  await conn.sendNotification(InitializedNotification.type, {});
  await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: project.languageId, version: 1, text } });
  const td = { uri };
  await step('textDocument/hover', () => conn.sendRequest(HoverRequest.type, { textDocument: td, position: positionOf(text, project.hover) }), (r) => (r ? 'a hover' : 'no hover'));
  await step('textDocument/definition', () => conn.sendRequest(DefinitionRequest.type, { textDocument: td, position: positionOf(text, project.definition) }), (r) => `${countOf(r)} location(s)`);
  await step('textDocument/documentSymbol', () => conn.sendRequest(DocumentSymbolRequest.type, { textDocument: td }), (r) => `${countOf(r)} symbols`);
  // Type at the end of the file, as a person would, then ask for completion there.
  const lines = text.split('\n');
  const end: Position = { line: lines.length - 1, character: lines[lines.length - 1].length };
  await conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 2 }, contentChanges: [{ range: { start: end, end }, text: project.typed }] });
  await step('textDocument/completion', () => conn.sendRequest(CompletionRequest.type, { textDocument: td, position: { line: end.line, character: end.character + project.typed.length }, context: project.typed.endsWith('.') ? { triggerKind: CompletionTriggerKind.TriggerCharacter, triggerCharacter: '.' } : { triggerKind: CompletionTriggerKind.Invoked } }),
    (r) => `${countOf(r)} completions after ${project.typed}`);
  await step('shutdown', () => conn.sendRequest(ShutdownRequest.type), () => 'ok');
  await conn.sendNotification(ExitNotification.type);
  return { steps, answers };
}
