// `--metrics ADDR`: the address and its error, apart from metrics.ts so that the relay
// thread can name the error without loading prom-client (tens of ms at every start).

export type MetricsAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

import { MetricsAddressError } from '../model/errors';
export { MetricsAddressError };

/** `tcp:HOST:PORT` (HOST may be [v6]) or `unix:PATH`. */
export function parseMetricsAddress(s: string): MetricsAddress {
  if (s.startsWith('unix:') && s.length > 5) return { kind: 'unix', path: s.slice(5) };
  const m = /^tcp:(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(s);
  if (m !== null && Number(m[2]) <= 65535) return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new MetricsAddressError(`lsptap: --metrics needs tcp:HOST:PORT or unix:PATH (e.g. tcp:127.0.0.1:9464), got ${JSON.stringify(s)}`);
}
