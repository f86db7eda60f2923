// The facts of each session a report covers, for its header: which server (as --summary
// names it, and the version its initialize response gave), the workspace, when and how
// long, how many requests, the machine, and what lsptap itself cost where the log says.
// Fed every line beside the aggregate (report-command.ts); older logs lack some fields,
// which then read as null and the header leaves them out.

import { serverNameOf } from '../model/process-name';

export interface MachineText { os: string; arch: string; cpus: number; cpuModel: string | null; memoryMb: number }

export interface SessionFacts {
  source: string;
  session: string;
  /** The server's program (`gopls`), as --summary names it; null in socket mode. */
  serverName: string | null;
  /** Its initialize response's serverInfo.version (gopls: its build info as JSON), if logged. */
  serverVersion: string | null;
  /** The workspace initialize named, else lsptap's working directory. */
  workspace: string | null;
  /** lsptap's working directory (a second name of the workspace, often). */
  cwd: string | null;
  /** Epoch ms of session start (its startTime), else of the first line seen. */
  startMs: number;
  /** Epoch ms of its last line. */
  endMs: number;
  ended: boolean;
  requests: number;
  notifications: number;
  machine: MachineText | null;
  /** µs lsptap spent in read and write syscalls for messages (kernel timing), summed; null without it. */
  lsptapIoUs: number | null;
  /** ms the analysis thread spent draining kernel events (`session end` kernel.drainMs); null without it. */
  kernelDrainMs: number | null;
  /** ms loading the BPF programs (`session start` kernel.loadMs); null without it. */
  kernelLoadMs: number | null;
  /** lsptap's CPU (`session end` lsptapCpuMs) and the server's (serverCpuMs), ms; null when not logged. */
  lsptapCpuMs: number | null;
  serverCpuMs: number | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : null);

function machineOf(v: unknown): MachineText | null {
  const m = obj(v);
  if (m === null || typeof m.os !== 'string' || typeof m.arch !== 'string') return null;
  return { os: m.os, arch: m.arch, cpus: num(m.cpus) ?? 0, cpuModel: str(m.cpuModel), memoryMb: num(m.memoryMb) ?? 0 };
}

export class SessionFactsBuilder {
  private readonly sessions = new Map<string, SessionFacts>();

  add(line: Record<string, unknown>, source: string): void {
    const id = typeof line.session === 'string' ? line.session : '';
    const time = num(line.time);
    const key = `${source}\u0000${id}`;
    let f = this.sessions.get(key);
    if (f === undefined) {
      if (line.msg !== 'session start' && line.msg !== 'message') return;
      f = {
        source, session: id, serverName: null, serverVersion: null, workspace: null, cwd: null, startMs: time ?? 0, endMs: time ?? 0,
        ended: false, requests: 0, notifications: 0, machine: null, lsptapIoUs: null, kernelDrainMs: null, kernelLoadMs: null,
        lsptapCpuMs: null, serverCpuMs: null,
      };
      this.sessions.set(key, f);
    }
    if (time !== null && time > f.endMs) f.endMs = time;
    if (line.msg === 'message') {
      if (line.kind === 'request') f.requests++;
      else if (line.kind === 'notification') f.notifications++;
      const k = obj(line.kernel);
      // Each message's own read and write (a response line repeats its request's parts, not these).
      const io = k === null ? null : (num(k.lsptapReadUs) ?? 0) + (num(k.lsptapWriteUs) ?? 0);
      if (io !== null && (k!.lsptapReadUs !== undefined || k!.lsptapWriteUs !== undefined)) f.lsptapIoUs = (f.lsptapIoUs ?? 0) + io;
      return;
    }
    if (line.msg === 'session start') {
      f.serverName = serverNameOf(line.command);
      f.cwd = str(line.cwd);
      f.workspace ??= f.cwd;
      f.machine = machineOf(line.machine);
      f.kernelLoadMs = num(obj(line.kernel)?.loadMs);
      const start = typeof line.startTime === 'string' ? Date.parse(line.startTime) : NaN;
      if (!Number.isNaN(start)) f.startMs = start;
      return;
    }
    if (line.msg === 'session end') {
      f.ended = true;
      const server = obj(line.server);
      if (server !== null) {
        f.serverName ??= str(server.name);
        f.serverVersion = str(server.version);
      }
      f.workspace = str(line.workspace) ?? f.workspace;
      f.kernelDrainMs = num(obj(line.kernel)?.drainMs);
      f.lsptapCpuMs = num(line.lsptapCpuMs);
      f.serverCpuMs = num(line.serverCpuMs);
    }
  }

  result(): SessionFacts[] {
    return [...this.sessions.values()].sort((a, b) => a.startMs - b.startMs);
  }
}

/**
 * A server version as people read it: gopls sends its build info as JSON
 * (`{"GoVersion":"go1.19.5",...,"Version":"master"}`), read here as `master (go1.19.5)`;
 * anything else is shown as sent, cut to 80 characters.
 */
export function versionText(version: string): string {
  if (version.startsWith('{')) {
    try {
      const v = JSON.parse(version) as { Version?: unknown; GoVersion?: unknown; Main?: { Version?: unknown } };
      const main = typeof v.Version === 'string' && v.Version !== '' ? v.Version : typeof v.Main?.Version === 'string' && v.Main.Version !== '' ? v.Main.Version : null;
      const go = typeof v.GoVersion === 'string' ? v.GoVersion : null;
      if (main !== null || go !== null) return [main ?? '(devel)', go === null ? '' : `(${go})`].join(' ').trim();
    } catch { /* shown as sent */ }
  }
  return version.length > 80 ? `${version.slice(0, 79)}…` : version;
}
