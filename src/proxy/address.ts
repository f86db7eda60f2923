// Socket addresses for --connect and --listen: `unix:PATH` or `tcp:HOST:PORT`. gopls's own
// spellings are accepted too (`unix;PATH`, and a bare `HOST:PORT` is TCP, as for -remote),
// so an address can be copied from a gopls command line.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export type SocketAddress =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number };

import { AddressError } from '../model/errors';
export { AddressError };

export function parseAddress(flag: string, raw: string): SocketAddress {
  const unix = /^unix[:;](.+)$/.exec(raw);
  if (unix !== null) return { kind: 'unix', path: path.resolve(unix[1]) };
  const tcp = /^(?:tcp[:;])?(\[[^\]]+\]|[^:]*):(\d+)$/.exec(raw);
  if (tcp !== null) {
    const port = Number(tcp[2]);
    if (port > 65535) throw new AddressError(`lsptap: ${flag} ${raw}: port ${port} is out of range`);
    const host = tcp[1].replace(/^\[|\]$/g, '');
    return { kind: 'tcp', host: host === '' ? '127.0.0.1' : host, port };
  }
  throw new AddressError(`lsptap: ${flag} needs unix:PATH or tcp:HOST:PORT, got ${JSON.stringify(raw)}`);
}

export function formatAddress(a: SocketAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `tcp:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Connect to a listening server; rejects with one sentence saying what is wrong and what to do. */
export function connectTo(addr: SocketAddress, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const where = formatAddress(addr);
    if (addr.kind === 'unix') {
      let st: fs.Stats;
      try { st = fs.statSync(addr.path); } catch {
        reject(new AddressError(`lsptap: cannot connect to ${where}: no such socket; is the server listening (e.g. gopls serve -listen='unix;${addr.path}')?`));
        return;
      }
      if (!st.isSocket()) {
        reject(new AddressError(`lsptap: cannot connect to ${where}: it is not a socket (a ${st.isDirectory() ? 'directory' : 'regular file or other'}); give the server's socket path`));
        return;
      }
    }
    const socket = addr.kind === 'unix' ? net.connect({ path: addr.path, allowHalfOpen: true }) : net.connect({ host: addr.host, port: addr.port, allowHalfOpen: true });
    // Read nothing until the session's relay resumes it: Node starts reading on connect,
    // and bytes a server sends at once (before kernel timing watches this socket) would be
    // read unseen and shift every later byte offset.
    socket.pause();
    const timer = setTimeout(() => { socket.destroy(); reject(new AddressError(`lsptap: cannot connect to ${where}: no answer within ${timeoutMs} ms`)); }, timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ECONNREFUSED' ? (addr.kind === 'unix' ? 'nobody is listening on it (a stale socket?); start the server or remove the file' : 'connection refused; is the server listening there?') : err.message;
      reject(new AddressError(`lsptap: cannot connect to ${where}: ${why}`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Until the session's own handler is on (after the peer lookup), an error must not
      // escape as an exception; the 'close' that follows ends the session.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
