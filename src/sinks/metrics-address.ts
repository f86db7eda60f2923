// `--metrics ADDR`: the address and its error, apart from metrics.ts so that the relay
// thread can name the error without loading prom-client (tens of ms at every start).

import { isIPv4, isIPv6 } from 'node:net';

export type MetricsAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

import { MetricsAddressError } from '../model/errors';
export { MetricsAddressError };

/** Only this machine can reach it: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host) || /^(0+:){7}0*1$/.test(host);
  return false;
}

/** The warn line for a metrics address other machines can reach, or null for a private one. */
export function exposedMetricsWarning(addr: MetricsAddress): string | null {
  if (addr.kind !== 'tcp' || isLoopbackHost(addr.host)) return null;
  return `lsptap: warning: --metrics tcp:${addr.host}:${addr.port} is not a loopback address: other machines can read these metrics (method names, message counts, latencies); use tcp:127.0.0.1:PORT or unix:PATH to keep them on this machine`;
}

/** `tcp:HOST:PORT` (HOST may be [v6]) or `unix:PATH`. */
export function parseMetricsAddress(s: string): MetricsAddress {
  if (s.startsWith('unix:') && s.length > 5) return { kind: 'unix', path: s.slice(5) };
  const m = /^tcp:(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(s);
  if (m !== null && Number(m[2]) <= 65535) return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new MetricsAddressError(`lsptap: --metrics needs tcp:HOST:PORT or unix:PATH (e.g. tcp:127.0.0.1:9464), got ${JSON.stringify(s)}`);
}
