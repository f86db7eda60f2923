// lsptap's own failures that end a run before or instead of a session, each with the exit
// code it means, and the one mapper from an error to (stderr sentence, exit code) used by
// both ways in (cli.ts and dropin/gopls-main.ts). The messages carry their fix already.

/** The exit code for a failure that is lsptap's own fault (EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

/** A run that ends on one of these prints its message and exits with `exitCode`. */
export abstract class LsptapError extends Error {
  abstract readonly exitCode: number;
}

/** A bad flag or argument (2). */
export class UsageError extends LsptapError { readonly exitCode = 2; }
/** `--log PATH` / the log directory cannot be used (2). */
export class LogPathError extends UsageError {}
/** `--metrics ADDR` is malformed or cannot be served (2). */
export class MetricsAddressError extends UsageError {}
/** `install-shim DIR` cannot write the shim (2). */
export class InstallError extends UsageError {}
/** `--connect`/`--listen ADDR` is malformed or unreachable (1). */
export class AddressError extends LsptapError { readonly exitCode = 1; }
/** A startup failure with its fix, e.g. `--bpf=require` refused (1). */
export class StartupError extends LsptapError { readonly exitCode = 1; }
/** Standing in for gopls and no real gopls was found (127, as a shell's "command not found"). */
export class ServerNotFound extends LsptapError { readonly exitCode = 127; }

/** What to print on stderr and the exit code for an error that ended a run. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof LsptapError) return { message: err.message, exitCode: err.exitCode };
  return { message: `lsptap: internal error: ${(err as Error)?.stack ?? String(err)}`, exitCode: EXIT_INTERNAL };
}
