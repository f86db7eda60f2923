// The real servers beyond gopls (clangd, pylsp, bash-language-server, typescript-language-server
// with typescript 5's tsserver, TypeScript 7's `tsc --lsp`), each on a small project made here:
// one editor session directly and one through lsptap with kernel timing. The answers are the
// same both ways, every request in the log is paired, no warn line, and --summary names the
// server and its children by what they run, with sentences that add up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { WireReader } from '../bench/lsp-wire';
import { answerServerRequests } from '../src/demo/gopls-script';
import { SERVER_PROJECTS, runProjectScript, writeProject, type ProjectAnswer } from '../src/demo/server-projects';
import { childName } from '../src/sinks/kernel-text';
import type { KernelChild } from '../src/model/record';
import { connect, frame, lsptapBin, messages, readLog, start, startLsptap, tmpDir, type Running } from './helpers/index';
import { bpfSkipReason, kernelDecided } from './helpers/kernel';
import { SERVER_NAMES, serverOrSkip, type LocatedServer } from './helpers/servers';
import { sentenceFault } from './helpers/sentences';

/** The names an interpreter would give, had a process been named by its executable. */
const INTERPRETERS = /^(node|nodejs|python[0-9.]*)$/;

/** What each server's children are called (a subset may be seen: they start when needed). */
const CHILDREN: Partial<Record<string, string[]>> = {
  'typescript-language-server': ['tsserver', 'typingsInstaller', 'npm'],
  pylsp: ['jedi'],
};

/** log: lsptap's; `initialize` goes at once, as an editor sends it, and the rest once kernel timing watches. */
async function session(run: Running, dir: string, server: LocatedServer, log: string | null = null): Promise<{ answers: ProjectAnswer[]; exit: { code: number | null } }> {
  const conn = connect(run.child);
  answerServerRequests(conn);
  const { steps, answers } = await runProjectScript(conn, dir, SERVER_PROJECTS[server.name], { afterInitialize: log === null ? undefined : () => kernelDecided(log, run) });
  for (const s of steps) assert.ok(s.ok, `${server.name} ${s.method}: ${s.detail}; stderr: ${run.stderr().slice(-3000)}`);
  run.child.stdin!.end();
  const exit = await run.exited;
  conn.dispose();
  return { answers, exit };
}

/** Answers with the project's directory put as <root>, so two copies of a project compare. */
function normalized(answers: ProjectAnswer[], dir: string): unknown {
  const real = fs.realpathSync(dir);
  let text = JSON.stringify(answers);
  for (const d of [real, dir]) text = text.split(encodeURI(d)).join('<root>').split(d).join('<root>');
  return JSON.parse(text);
}

const bpfSkip = bpfSkipReason();

for (const name of SERVER_NAMES) {
  const found = serverOrSkip(name);
  const skip = found.skip ?? (bpfSkip === false ? undefined : bpfSkip);
  test(`${name}: a session through lsptap with kernel timing gets the same answers as directly, pairs every request and names ${name} and its children in sentences that add up`, { skip }, async (t) => {
    const server = found.server!;
    const project = SERVER_PROJECTS[name];
    const direct = tmpDir(t), tapped = tmpDir(t);
    writeProject(direct, project);
    writeProject(tapped, project);

    const plain = await session(start(t, server.command[0], server.command.slice(1), { cwd: direct }), direct, server);

    const log = path.join(tapped, '..', `${path.basename(tapped)}.jsonl`);
    t.after(() => fs.rmSync(log, { force: true }));
    // bash-language-server takes 3-5 s to exit after `exit` (directly too): room for it before
    // lsptap's SIGTERM, which would be a warn line.
    const run = startLsptap(t, ['--log', log, '--summary', '--bpf', 'require', '--grace-ms', '20000'], server.command, { cwd: tapped });
    const through = await session(run, tapped, server, log);

    assert.deepEqual(normalized(through.answers, tapped), normalized(plain.answers, direct), 'the same answers through lsptap as directly');

    const lines = readLog(log);
    const warns = lines.filter((l) => l.level >= 40);
    assert.deepEqual(warns.map((l) => l.msg), [], `no warn line: ${JSON.stringify(warns).slice(0, 2000)}`);
    const end = lines.find((l) => l.msg === 'session end')!;
    assert.equal(through.exit.code, end.exitCode, 'the server\'s exit code passes through');
    if (name !== 'tsc') assert.equal(end.exitCode, 0); // TypeScript 7.0.2 races exit against stdin's end (servers-installed.test.ts)

    // Every request, either way (the server's own workspace/configuration too), has its response.
    const msgs = messages(lines);
    const key = (dir: unknown, id: unknown): string => `${String(dir)} ${JSON.stringify(id)}`;
    const answered = new Set(msgs.filter((m) => m.kind === 'response').map((m) => key(m.dir === 'c2s' ? 's2c' : 'c2s', m.id)));
    const requests = msgs.filter((m) => m.kind === 'request');
    for (const r of requests) assert.ok(answered.has(key(r.dir, r.id)), `${String(r.dir)} ${String(r.method)} ${JSON.stringify(r.id)} has a response in the log`);
    assert.ok(requests.filter((r) => r.dir === 'c2s').length >= 6);

    // Children are named by what they run, never by their interpreter.
    const seen = new Set<string>();
    for (const m of msgs) for (const c of ((m.kernel as { children?: KernelChild[] | null } | null)?.children ?? [])) seen.add(childName(c));
    for (const c of seen) assert.ok(!INTERPRETERS.test(c), `a child named ${c} (by its interpreter): ${[...seen].join(', ')}`);
    if (name === 'typescript-language-server') assert.ok(seen.has('tsserver'), `tsserver among the children: ${[...seen].join(', ')}`);
    // Children that outlive requests (tsserver, jedi's helper) still have figures in each one.
    for (const m of msgs) {
      for (const c of ((m.kernel as { children?: KernelChild[] | null } | null)?.children ?? [])) {
        assert.ok(c.cpuUs !== null && c.wallUs !== null, `${String(m.method)}: ${childName(c)} (pid ${c.pid}) has cpuUs and wallUs: ${JSON.stringify(c)}`);
      }
    }
    if (name === 'typescript-language-server') {
      // The slowest request's busiest child is a tsserver, with its CPU in that request.
      const slowest = msgs.filter((m) => m.kind === 'response' && m.dir === 's2c' && typeof m.latencyMs === 'number').sort((x, y) => (y.latencyMs as number) - (x.latencyMs as number))[0];
      const kids = (slowest.kernel as { children?: KernelChild[] | null } | null)?.children ?? [];
      const busiest = [...kids].sort((x, y) => (y.cpuUs ?? -1) - (x.cpuUs ?? -1))[0];
      assert.ok(busiest !== undefined && childName(busiest) === 'tsserver' && busiest.cpuUs! > 0, `the slowest request (${String(slowest.method)}) has a tsserver with CPU in it: ${JSON.stringify(kids)}`);
    }
    for (const c of seen) if (CHILDREN[name] !== undefined) assert.ok(CHILDREN[name].includes(c), `${name}'s child ${c} is one of ${CHILDREN[name].join(', ')}`);

    // --summary: the slowest requests explained, each accounting for its whole latency.
    const summary = run.stderr();
    const at = summary.indexOf('slowest requests, explained:\n');
    assert.ok(at >= 0, `--summary explains the slowest requests:\n${summary}`);
    const sentences = summary.slice(at).split('\n').slice(1).filter((l) => /^\S+ [\d,]+ ms: /.test(l));
    assert.ok(sentences.length > 0, summary);
    t.diagnostic(`${name}:\n${sentences.join('\n')}\nchildren: ${[...seen].join(', ')}`);
    for (const s of sentences) assert.equal(sentenceFault(s), null);
    assert.ok(sentences.some((s) => s.includes(` ${name} busy`) || s.includes(` ${name} waited`) || s.includes(`before ${name} read it`)), `the server is called ${name}:\n${sentences.join('\n')}`);
    for (const s of sentences) assert.doesNotMatch(s, /\b(node|python3?) (busy|waited|writing|read)/, 'no process is named by its interpreter');
    if (name === 'typescript-language-server') assert.match(sentences[0], /waited for tsserver/, `the slowest request waited for tsserver:\n${sentences.join('\n')}`);

    // `lsptap report` on the log says the same: its sentences add up and name the server.
    const report = execFileSync(process.execPath, [lsptapBin, 'report', log], { encoding: 'utf8' });
    const from = report.indexOf('where their server time went\n');
    assert.ok(from >= 0, report);
    const told = report.slice(from).split('\n').slice(1).filter((l) => /^\S+ [\d,]+ ms: /.test(l));
    assert.ok(told.length > 0, report);
    for (const s of told) assert.equal(sentenceFault(s), null);
    assert.ok(told.some((s) => s.includes(` ${name} `)), `the report calls the server ${name}:\n${told.join('\n')}`);
    for (const s of told) assert.doesNotMatch(s, /\b(node|python3?) (busy|waited|writing|read)/, 'no process is named by its interpreter in the report');
  });
}

const clangd = serverOrSkip('clangd');
test('clangd: a pipelined flood of 300 requests with 20 cancels through lsptap pairs every answer and counts no stray kernel event (the fd number of lsptap\'s closed pipe to clangd, reused by its own thread, is no longer watched)', { skip: clangd.skip ?? (bpfSkip === false ? undefined : bpfSkip) }, async (t) => {
  const dir = tmpDir(t);
  writeProject(dir, SERVER_PROJECTS.clangd);
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--log', log, '--bpf', 'require'], clangd.server!.command, { cwd: dir });
  const stdin = run.child.stdin!;
  const answered = new Set<number>();
  let waiting: { ids: Set<number>; done: () => void } | null = null;
  const reader = new WireReader((body) => {
    const m = JSON.parse(body!.toString('utf8')) as { id?: number; method?: string };
    if (m.id === undefined) return;
    if (m.method !== undefined) { stdin.write(frame(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: null }))); return; }
    answered.add(m.id);
    if (waiting !== null && waiting.ids.delete(m.id) && waiting.ids.size === 0) waiting.done();
  });
  run.child.stdout!.on('data', (c: Buffer) => reader.push(c));
  const answers = (ids: number[]): Promise<void> => new Promise((resolve) => {
    waiting = { ids: new Set(ids.filter((i) => !answered.has(i))), done: resolve };
    if (waiting.ids.size === 0) resolve();
  });
  const send = (o: object): Buffer => frame(JSON.stringify({ jsonrpc: '2.0', ...o }));
  const uri = pathToFileURL(path.join(dir, 'main.c')).href;
  stdin.write(send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} } }));
  await answers([1]);
  // Everything at once, as an editor replaying a burst would: clangd answers the cancelled
  // ones with RequestCancelled.
  const burst = [send({ method: 'initialized', params: {} }), send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'c', version: 1, text: fs.readFileSync(path.join(dir, 'main.c'), 'utf8') } } })];
  const ids: number[] = [];
  for (let i = 0; i < 300; i++) {
    const id = 100 + i;
    ids.push(id);
    burst.push(send({ id, method: ['textDocument/hover', 'textDocument/documentSymbol', 'textDocument/definition'][i % 3], params: { textDocument: { uri }, position: { line: 6, character: 10 } } }));
    if (i % 15 === 7) burst.push(send({ method: '$/cancelRequest', params: { id } }));
  }
  stdin.write(Buffer.concat(burst));
  await answers(ids);
  stdin.write(send({ id: 2, method: 'shutdown' }));
  await answers([2]);
  stdin.end(send({ method: 'exit' }));
  assert.equal((await run.exited).code, 0, run.stderr());

  const lines = readLog(log);
  assert.deepEqual(lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'no warn line');
  const end = lines.find((l) => l.msg === 'session end')!;
  assert.equal(end.unansweredCount, 0);
  const k = end.kernel as { strayEvents: number; ioEvents: number };
  t.diagnostic(`session end kernel: ioEvents ${k.ioEvents}, strayEvents ${k.strayEvents}`);
  assert.equal(k.strayEvents, 0, 'every io event kernel timing sent is on a stream of the session');
});
