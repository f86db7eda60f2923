// The redactor behind `lsptap report --redact`: every path or file: URI under a workspace or
// a home directory becomes a stable placeholder, in free text and in nested values.

import test from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { Redactor, redactionRoots } from '../src/model/redaction';

const roots = redactionRoots({ workspaces: ['/src/my app', null], home: '/home/ann' });

test('a path under the workspace becomes <workspace>/aN keeping its extension, the same path the same placeholder', () => {
  const r = new Redactor(roots);
  assert.equal(r.text('go list -- /src/my app/cmd/x.go'), 'go list -- <workspace>/a1.go');
  assert.equal(r.text('/src/my app/cmd/x.go and /src/my app/y.mod'), '<workspace>/a1.go and <workspace>/a2.mod');
  assert.equal(r.text('/src/my app'), '<workspace>');
});

test('a file: URI and its path get one placeholder, percent-encoding and all', () => {
  const r = new Redactor(roots);
  const uri = pathToFileURL('/src/my app/cmd/x.go').href;
  assert.match(uri, /%20/);
  assert.equal(r.text(uri), '<workspace>/a1.go');
  assert.equal(r.text('/src/my app/cmd/x.go'), '<workspace>/a1.go');
});

test('paths under the home directory, or any /home/NAME, /Users/NAME or /root, become <home>/hN', () => {
  const r = new Redactor(roots);
  assert.equal(r.text('/home/ann/go/bin/gopls serve'), '<home>/h1 serve');
  assert.equal(r.text('GOCACHE=/root/.cache/go-build'), 'GOCACHE=<home>/h2');
  assert.equal(r.text('"/Users/bob/proj/main.go"'), '"<home>/h3.go"');
});

test('what is not a path under a root is left alone: methods, relative paths, other absolute paths', () => {
  const r = new Redactor(roots);
  for (const s of ['textDocument/hover', 'net/http/server.go', '/usr/lib/go-1.19/bin/go', '/src/my apple/x.go']) assert.equal(r.text(s), s);
});

test('value() redacts every string and key of a nested value, and removed() says what it replaced', () => {
  const r = new Redactor(roots);
  const v = r.value({ a: ['/src/my app/x.go', 3, null], '/home/ann/k': { deep: 'file:///src/my%20app/x.go' } });
  assert.deepEqual(v, { a: ['<workspace>/a1.go', 3, null], '<home>/h1': { deep: '<workspace>/a1.go' } });
  assert.deepEqual(r.removed(), [
    'message bodies left out',
    '1 path(s) under the workspace replaced by <workspace>/aN (the workspace itself by <workspace>)',
    '1 path(s) under a home directory replaced by <home>/hN',
  ]);
});
