// A process is named by what it runs, from its argv alone: the module after `python -m`, a
// node script's file or package, the executable (with its subcommand) otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processName, serverNameOf } from '../src/model/process-name';

const cases: [string[], string][] = [
  [['python3', '-m', 'pylsp'], 'pylsp'],
  [['/usr/bin/python3.11', '-u', '-m', 'pylsp.__main__', '-v'], 'pylsp'],
  [['/usr/bin/python3', '/usr/bin/pylsp'], 'pylsp'],
  [['/usr/bin/python3', '/usr/lib/python3/dist-packages/jedi/inference/compiled/subprocess/__main__.py', '/usr/lib/python3/dist-packages', '3.11.2'], 'jedi'],
  [['node', '/w/test/servers/node_modules/typescript-language-server/lib/cli.mjs', '--stdio'], 'typescript-language-server'],
  [['/usr/bin/node', '--max-old-space-size=3072', '/w/node_modules/typescript/lib/tsserver.js', '--serverMode', 'partialSemantic'], 'tsserver'],
  [['/usr/bin/node', '/w/node_modules/typescript/lib/typingsInstaller.js', '--globalTypingsCacheLocation', '/root/.cache'], 'typingsInstaller'],
  [['node', '/w/node_modules/bash-language-server/out/cli.js', 'start'], 'bash-language-server'],
  [['node', '/w/node_modules/.bin/typescript-language-server', '--stdio'], 'typescript-language-server'],
  [['node', '/w/node_modules/@scope/lang-server/dist/index.js'], '@scope/lang-server'],
  [['node', '-e', 'setTimeout(() => {}, 1000)'], 'node'],
  [['node'], 'node'],
  [['/usr/bin/env', 'node', '/srv/app/server.js'], 'app'],
  [['/w/node_modules/@typescript/typescript-linux-x64/lib/tsc', '--lsp', '--stdio'], 'tsc'],
  [['clangd', '--background-index'], 'clangd'],
  [['gopls'], 'gopls'],
  [['go', 'list', '-e', '-json'], 'go list'],
  [['/usr/lib/go/pkg/tool/linux_amd64/compile', '-V=full'], 'compile'],
  [['bash', '-c', 'echo hi'], 'bash'],
  [['sh', '/usr/share/thing/run-it.sh'], 'run-it'],
];

for (const [argv, name] of cases) {
  test(`${JSON.stringify(argv)} is named ${name}`, () => assert.equal(processName(argv), name));
}

test('a process with no argv is named by its path, then its comm', () => {
  assert.equal(processName([], '/usr/bin/clangd', 'clangd'), 'clangd');
  assert.equal(processName([], null, 'worker'), 'worker');
});

test("a session start line's command names its server; anything else names none", () => {
  assert.equal(serverNameOf(['python3', '-m', 'pylsp']), 'pylsp');
  assert.equal(serverNameOf([]), null);
  assert.equal(serverNameOf('gopls'), null);
});
