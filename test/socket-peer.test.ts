// The process at the other end of a socket, as kernel timing needs it in socket mode: the
// pid (SO_PEERCRED for UNIX sockets, /proc/net/tcp for TCP) and the fd it holds the
// connection on. The peer is a separate process, as the gopls daemon is.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findSocketPeer } from '../src/proxy/socket-peer';
import { start, tmpDir, waitFor } from './helpers/index';

const LISTENER = `
const net = require('net');
const [kind, where] = process.argv.slice(1);
const server = net.createServer(() => {});
const done = () => process.stdout.write(kind === 'tcp' ? String(server.address().port) + '\\n' : 'ready\\n');
if (kind === 'tcp') server.listen(0, '127.0.0.1', done); else server.listen(where, done);
`;

function connectTo(opts: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(opts);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('names the process and fd at the other end of a UNIX socket', async (t) => {
  const dir = tmpDir(t);
  const sock = path.join(dir, 'peer.sock');
  const peer = start(t, process.execPath, ['-e', LISTENER, 'unix', sock]);
  await waitFor(() => fs.existsSync(sock), 5000, 'listener');
  const s = await connectTo({ path: sock });
  t.after(() => s.destroy());
  const found = await findSocketPeer(s, { withPeerFd: true });
  assert.equal(found.pid, peer.child.pid);
  assert.equal(found.via, 'SO_PEERCRED');
  assert.notEqual(found.peerFd, null);
  assert.match(fs.readlinkSync(`/proc/${found.pid}/fd/${found.peerFd}`), /^socket:\[\d+\]$/);
  assert.equal(fs.readlinkSync(`/proc/self/fd/${found.fd}`), `socket:[${found.inode}]`);
});

test('names the process and fd at the other end of a local TCP connection', async (t) => {
  let out = '';
  const peer = start(t, process.execPath, ['-e', LISTENER, 'tcp']);
  peer.child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  await waitFor(() => out.includes('\n'), 5000, 'listener');
  const s = await connectTo({ host: '127.0.0.1', port: Number(out.trim()) });
  t.after(() => s.destroy());
  const found = await findSocketPeer(s);
  assert.equal(found.pid, peer.child.pid);
  assert.equal(found.via, '/proc/net/tcp');
  assert.match(fs.readlinkSync(`/proc/${found.pid}/fd/${found.peerFd}`), /^socket:\[\d+\]$/);
});
