// Prometheus metrics for `--metrics ADDR` (prom-client, own registry): a record sink fed
// every finished MessageRecord, plus a tiny HTTP server for /metrics on a loopback TCP port
// or a UNIX socket. Names follow Prometheus conventions (base units in the name, _total on
// counters). `method` is the only open-ended label, so it is capped: the first
// METHOD_LABEL_CAP distinct methods keep their name, later ones (and anything that does not
// look like an LSP method name) become "other" and are counted in
// lsptap_metrics_method_overflow_total. docs/commands.md "Prometheus metrics" lists every metric.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { isMainThread } from 'node:worker_threads';
import net from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Direction } from '../model/frame';
import { MetricsAddressError, type MetricsAddress } from './metrics-address';

export { MetricsAddressError, parseMetricsAddress, type MetricsAddress } from './metrics-address';
import type { MessageRecord } from '../model/record';

export const METHOD_LABEL_CAP = 64;
/** Request latency buckets (seconds): 1-2-5 steps from 1 ms to 10 s. */
export const LATENCY_BUCKETS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
/** Kernel part buckets (seconds): 10 µs to 10 s. */
export const KERNEL_BUCKETS_S = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
const KERNEL_PART_CAP = 16;
const METHOD_SHAPE = /^[A-Za-z0-9_$/.-]{1,100}$/;

const other = (d: Direction): Direction => (d === 'c2s' ? 's2c' : 'c2s');

export class LsptapMetrics {
  readonly registry = new Registry();
  private readonly methods = new Set<string>();
  private readonly parts = new Set<string>();
  private readonly requestDuration: Histogram<'dir' | 'method'>;
  private readonly messages: Counter<'dir' | 'kind' | 'method'>;
  private readonly bytes: Counter<'dir' | 'method'>;
  private readonly inFlight: Gauge<'dir' | 'method'>;
  private readonly frameErrors: Counter<'dir'>;
  private readonly kernelPart: Histogram<'dir' | 'method' | 'part'>;
  private readonly ringBufferDrops: Counter;
  private readonly overflow: Counter;

  constructor(private readonly methodCap = METHOD_LABEL_CAP) {
    const registers = [this.registry];
    this.requestDuration = new Histogram({
      name: 'lsptap_request_duration_seconds', registers, buckets: LATENCY_BUCKETS_S, labelNames: ['dir', 'method'] as const,
      help: 'Request latency as lsptap saw it: request fully forwarded to response fully read. dir is the request\'s direction.',
    });
    this.messages = new Counter({ name: 'lsptap_messages_total', registers, labelNames: ['dir', 'kind', 'method'] as const, help: 'Framed LSP messages by direction, kind (request, response, notification, invalid) and method.' });
    this.bytes = new Counter({ name: 'lsptap_message_bytes_total', registers, labelNames: ['dir', 'method'] as const, help: 'Bytes of framed messages (header and body) by direction and method.' });
    this.inFlight = new Gauge({ name: 'lsptap_requests_in_flight', registers, labelNames: ['dir', 'method'] as const, help: 'Requests forwarded and not yet answered, by the request\'s direction.' });
    this.frameErrors = new Counter({ name: 'lsptap_frame_errors_total', registers, labelNames: ['dir'] as const, help: 'Bad input: framing or pairing anomalies (each is a "bad input" warn line in the log).' });
    this.kernelPart = new Histogram({
      name: 'lsptap_kernel_part_seconds', registers, buckets: KERNEL_BUCKETS_S, labelNames: ['dir', 'method', 'part'] as const,
      help: 'Kernel-side breakdown of each answered request (server on-CPU, run-queue wait, blocked, pipe waits, lsptap\'s own time), when kernel timing runs.',
    });
    this.ringBufferDrops = new Counter({ name: 'lsptap_kernel_ring_buffer_drops_total', registers, help: 'Kernel timing events lost because the BPF ring buffer was full.' });
    this.overflow = new Counter({ name: 'lsptap_metrics_method_overflow_total', registers, help: `Messages whose method was reported as "other": past the first ${methodCap} distinct methods, or not shaped like a method name.` });
    for (const dir of ['c2s', 's2c'] as const) this.frameErrors.inc({ dir }, 0);
    this.ringBufferDrops.inc(0);
  }

  /** The record sink (a RecordSink): every finished record. */
  readonly add = (rec: MessageRecord): void => {
    const method = this.methodLabel(rec.method);
    this.messages.inc({ dir: rec.dir, kind: rec.kind, method });
    this.bytes.inc({ dir: rec.dir, method }, rec.bytes + rec.headerBytes);
    if (rec.kind === 'request') this.inFlight.inc({ dir: rec.dir, method });
    if (rec.kind !== 'response' || rec.unmatched || rec.latencyMs === null) return;
    const reqDir = other(rec.dir);
    this.inFlight.dec({ dir: reqDir, method });
    this.requestDuration.observe({ dir: reqDir, method }, rec.latencyMs / 1000);
    if (rec.kernel === null) return;
    for (const [part, us] of Object.entries(rec.kernel)) {
      // Time parts only (…Us): counts and bytes (fileReads, diskIoBytes) are not seconds.
      if (typeof us !== 'number' || !part.endsWith('Us') || !this.partKnown(part)) continue;
      this.kernelPart.observe({ dir: reqDir, method, part }, us / 1e6);
    }
  };

  /** A framing or pairing anomaly (a `bad input` line). */
  readonly badInput = (dir: Direction): void => { this.frameErrors.inc({ dir }); };

  /** Kernel timing reports ring-buffer drops here. */
  addRingBufferDrops(n: number): void { if (n > 0) this.ringBufferDrops.inc(n); }

  private methodLabel(method: string | null): string {
    if (method === null) return '(none)';
    if (this.methods.has(method)) return method;
    if (this.methods.size < this.methodCap && METHOD_SHAPE.test(method)) { this.methods.add(method); return method; }
    this.overflow.inc();
    return 'other';
  }

  private partKnown(part: string): boolean {
    if (this.parts.has(part)) return true;
    if (this.parts.size >= KERNEL_PART_CAP || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(part)) return false;
    this.parts.add(part);
    return true;
  }
}

export interface MetricsServer { url: string; close(): Promise<void> }

/** Serve the registry on GET /metrics. Resolves once listening; rejects with a one-sentence error. */
export function serveMetrics(metrics: LsptapMetrics, addr: MetricsAddress): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('lsptap: metrics are at /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (body) => { res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body); },
      (err: unknown) => { res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`); },
    );
  });
  // Never keep lsptap alive, never let a metrics socket error reach the relay.
  server.unref();
  server.on('clientError', (_err, socket) => socket.destroy());
  const ready = addr.kind === 'unix' ? removeDeadSocket(addr.path) : Promise.resolve();
  const where = addr.kind === 'tcp' ? `${addr.host}:${addr.port}` : addr.path;
  const inUse = (code: string): MetricsAddressError => new MetricsAddressError(`lsptap: cannot serve metrics on ${where}: ${code}; choose another --metrics address`);
  // A UNIX socket is bound under a private name and linked into place: link(2) refuses an
  // existing path, as bind(2) would, and libuv's unlink-at-close then hits the private name,
  // so only our own inode at the path is ever removed (below), never a later session's.
  const bindPath = addr.kind === 'unix' ? privateName(addr.path) : null;
  return ready.then(() => new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(inUse(err.code ?? err.message)));
    const listening = (): void => {
      let ours: fs.Stats | null = null;
      if (addr.kind === 'unix' && bindPath !== null) {
        try {
          fs.linkSync(bindPath, addr.path);
        } catch (err) {
          fs.rmSync(bindPath, { force: true });
          server.close();
          reject(inUse((err as NodeJS.ErrnoException).code === 'EEXIST' ? 'EADDRINUSE' : (err as NodeJS.ErrnoException).code ?? String(err)));
          return;
        }
        fs.rmSync(bindPath, { force: true });
      }
      if (addr.kind === 'unix') { try { ours = fs.lstatSync(addr.path); } catch { /* removed already */ } }
      const a = server.address();
      const url = addr.kind === 'unix' ? `unix:${addr.path}` : typeof a === 'object' && a !== null ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics` : '';
      resolve({
        url,
        close: () => new Promise<void>((done) => {
          if (addr.kind === 'unix' && ours !== null) removeIfOurs(addr.path, ours);
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    };
    const listenPath = bindPath ?? (addr.kind === 'unix' ? addr.path : '');
    if (addr.kind === 'unix' && isMainThread) {
      // The socket file is made by bind(2) inside listen(), synchronously: umask 177 makes
      // it 0600 (owner only) whatever the user's umask.
      const oldMask = process.umask(0o177);
      try { server.listen(listenPath, listening); } finally { process.umask(oldMask); }
    } else if (addr.kind === 'unix') {
      // A worker cannot set the umask: the thread that started it holds umask 177 until
      // this worker is ready (analysis-link.ts). Checked, not assumed:
      if ((process.umask() & 0o077) !== 0o077) { reject(new MetricsAddressError(`lsptap: cannot serve metrics on ${addr.path} with owner-only permissions (umask ${process.umask().toString(8)})`)); return; }
      server.listen(listenPath, listening);
    } else server.listen(addr.port, addr.host, listening);
  }));
}

/** sun_path holds 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;

/** A private name beside path to bind under, or null when it would not fit in sun_path (then the path itself is bound). */
function privateName(sockPath: string): string | null {
  const name = path.join(path.dirname(sockPath), `.lsptap-${process.pid}-${randomBytes(4).toString('hex')}`);
  return Buffer.byteLength(name) <= SUN_PATH_MAX ? name : null;
}

/** Remove the socket at path only if it is still the inode this session created. */
function removeIfOurs(sockPath: string, ours: fs.Stats): void {
  try {
    const now = fs.lstatSync(sockPath);
    if (now.ino === ours.ino && now.dev === ours.dev) fs.unlinkSync(sockPath);
  } catch { /* gone already */ }
}

/**
 * A socket file left by a session that was SIGKILLed would block every later one, so it is
 * removed, but only when it is a socket, belongs to this user and refuses connections.
 * A live socket, another user's, or anything else stays, and listen() reports EADDRINUSE.
 */
async function removeDeadSocket(sockPath: string): Promise<void> {
  let st: fs.Stats;
  try { st = fs.lstatSync(sockPath); } catch { return; }
  if (!st.isSocket() || st.uid !== process.getuid?.()) return;
  const refused = await new Promise<boolean>((resolve) => {
    const c = net.connect(sockPath);
    c.once('connect', () => { c.destroy(); resolve(false); });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (!refused) return;
  try { fs.unlinkSync(sockPath); } catch { /* gone meanwhile: fine */ }
}
