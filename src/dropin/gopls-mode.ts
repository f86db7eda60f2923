// lsptap standing in for gopls: invoked through a symlink named `gopls`, or as the path in
// VS Code's go.alternateTools. Every argument goes to the real gopls unchanged. A
// language-server session (no arguments, only flags, or `serve`) is relayed and observed;
// anything else (`version -json`, `vulncheck -- -mode=convert`, `help`, `-listen=...`
// daemons) runs the real gopls plainly: same stdin, stdout, stderr and exit status, no log.

import { newSessionId } from '../model/session-id';
import { spawn } from 'node:child_process';
import os from 'node:os';
import { findRealServer, chainEnv, type FoundServer } from './find-server';
import { LogPathError, StartupError } from '../model/errors';
import { DEFAULT_PROFILE_HZ, MAX_PROFILE_HZ } from '../model/stages';
import { writeStderr } from '../proxy/stderr';
import { classifyGoplsArgs } from './command-line';
import type { RetentionPolicy } from '../sinks/log-retention';

/** Run the real gopls with our stdio, as if it had been started instead of us. */
function runPlain(server: FoundServer, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(server.path, args, { stdio: 'inherit', env: chainEnv(process.env) });
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
    const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
    for (const s of signals) process.on(s, forward);
    child.once('error', (err) => {
      process.stderr.write(`lsptap: cannot start ${server.path}: ${err.message}\n`);
      resolve(126);
    });
    child.once('exit', (code, signal) => {
      for (const s of signals) process.removeListener(s, forward);
      if (signal !== null) {
        // Die of the same signal, so our parent sees what it would have seen from gopls.
        process.kill(process.pid, signal);
        resolve(128 + (os.constants.signals[signal] ?? 0));
        return;
      }
      resolve(code ?? 1);
    });
  });
}

export interface GoplsModeOptions {
  /** --server, when lsptap was started as `lsptap --server PATH -- ARGS`. */
  server?: string;
  invokedAs: string;
  log?: string;
  logDir?: string;
  /** --log-dir-max / --log-dir-days; standing in for gopls, LSPTAP_LOG_DIR_MAX / _DAYS. */
  retention?: RetentionPolicy;
  bodies?: boolean;
  bodiesMax?: number;
  summary?: boolean;
  graceMs?: number;
  /** --bpf; standing in for gopls, $LSPTAP_BPF, default auto. */
  bpf?: 'off' | 'auto' | 'require';
}

/** Resolves with the exit code; throws ServerNotFound / LogPathError for the CLI to print. */
export async function runGoplsMode(args: string[], opts: GoplsModeOptions): Promise<number> {
  const server = findRealServer(process.env, opts.server);
  const inv = classifyGoplsArgs(args);
  if (!inv.session) return runPlain(server, args);

  // Loaded only for a session, so plain commands start as fast as Node does.
  const { openLogTarget, defaultLogDir } = require('../sinks/log-file') as typeof import('../sinks/log-file');
  const { runStdioProxy } = require('../proxy/stdio-proxy') as typeof import('../proxy/stdio-proxy');
  const { AnalysisLink } = require('../proxy/worker/analysis-link') as typeof import('../proxy/worker/analysis-link');
  const { resolveRetention } = require('../sinks/log-retention') as typeof import('../sinks/log-retention');
  const bpf = opts.bpf ?? process.env.LSPTAP_BPF ?? 'auto';
  if (bpf !== 'off' && bpf !== 'auto' && bpf !== 'require') throw new StartupError(`lsptap: LSPTAP_BPF must be auto, off or require, not ${JSON.stringify(bpf)}`);
  // As cli.ts: gopls starts while the probes load; --bpf=require checks the capabilities first.
  if (bpf === 'require') {
    const { missingBpfCapability } = require('../probes/bpf-capability') as typeof import('../probes/bpf-capability');
    const missing = missingBpfCapability();
    if (missing !== null) throw new StartupError(`lsptap: --bpf=require: kernel timing cannot start: ${missing.message}`);
  }
  const profileHz = profileHzFromEnv(process.env.LSPTAP_PROFILE_HZ);

  const retention = opts.retention ?? resolveRetention({}, process.env);
  if (typeof retention === 'string') throw new StartupError(retention);
  const logOption = opts.log ?? process.env.LSPTAP_LOG;
  let target;
  try {
    target = openLogTarget(logOption, opts.logDir ?? defaultLogDir(process.env), process.pid, retention);
  } catch (err) {
    // The editor's language server must start whatever happens to our log (HOME unwritable,
    // a read-only disk): say why once and run it plainly. A --log typed on lsptap's own
    // command line stays an error (exit 2): someone is there to read it.
    if (!(err instanceof LogPathError) || opts.log !== undefined) throw err;
    writeStderr(`${err.message.replace(/\.?$/, '')}; starting ${server.path} without lsptap in between (this session is not logged)\n`);
    return runPlain(server, args);
  }
  const bodies = opts.bodies ?? process.env.LSPTAP_BODIES === '1';
  // The thread starts once gopls is spawned (stdio-proxy.ts); records wait in the ring.
  const link = AnalysisLink.prepare({ bpf, metricsAddress: null, profileHz });
  link.openLog(target.fd, bodies, target.path, opts.graceMs ?? 3000);
  return runStdioProxy({
    command: server.path, args, env: chainEnv(process.env), link, logPath: target.path,
    retainBodyMax: bodies ? opts.bodiesMax ?? 1 << 20 : 0, printSummary: opts.summary ?? false,
    graceMs: opts.graceMs ?? 3000, sessionId: newSessionId(),
    extraStart: { invokedAs: opts.invokedAs, serverFoundVia: server.via, ...(target.retention === null ? {} : { logRetention: target.retention }) },
  });
}

/** Standing in for gopls, the profiler's rate comes from $LSPTAP_PROFILE_HZ (default 99; 0: off). */
function profileHzFromEnv(v: string | undefined): number {
  if (v === undefined || v === '') return DEFAULT_PROFILE_HZ;
  if (!/^\d+$/.test(v) || Number(v) > MAX_PROFILE_HZ) throw new StartupError(`lsptap: LSPTAP_PROFILE_HZ must be a whole number from 0 to ${MAX_PROFILE_HZ}, not ${JSON.stringify(v)}`);
  return Number(v);
}
