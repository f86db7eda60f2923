// How every lsptap command reads its command line, so that all of them speak the same way:
// a command declares its options once (name, value, help, kind), and from that one
// declaration come its parse (node:util's parseArgs, strict), its value checks (a whole
// number, one of a few words) and its usage text. `--help` prints the usage and exits 0;
// an unknown option or a bad value is one line naming the command, then the usage, exit 2.
// docs/command-line.md lists the same options (test/docs.test.ts compares them).

import { parseArgs } from 'node:util';
import { UsageError } from '../model/errors';

/** An option that takes no value. */
export interface FlagOption { readonly kind: 'flag'; readonly help: string }
/** An option with a free value (a path, an address, a method); `short` is a one-letter alias (`-o`). */
export interface TextOption { readonly kind: 'text'; readonly value: string; readonly help: string; readonly short?: string }
/** An option whose value is a whole number (digits only) of at least `min`; `default` when absent (null: none). */
export interface WholeOption<D extends number | null = number | null> { readonly kind: 'whole'; readonly value: string; readonly help: string; readonly default: D; readonly min: number }
/** An option whose value is one of a few words. */
export interface ChoiceOption<C extends string = string> { readonly kind: 'choice'; readonly value: string; readonly help: string; readonly choices: readonly C[]; readonly default: C }
export type OptionSpec = FlagOption | TextOption | WholeOption | ChoiceOption;

export const flag = (help: string): FlagOption => ({ kind: 'flag', help });
export const text = (value: string, help: string, short?: string): TextOption => ({ kind: 'text', value, help, short });
export const whole = <D extends number | null>(value: string, dflt: D, help: string, min = 0): WholeOption<D> => ({ kind: 'whole', value, help, default: dflt, min });
export const choice = <C extends string>(value: string, choices: readonly C[], dflt: C, help: string): ChoiceOption<C> => ({ kind: 'choice', value, help, choices, default: dflt });

export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** How errors and the usage name it: `lsptap`, `lsptap report`. */
  readonly name: string;
  /** The usage lines, each a whole invocation. */
  readonly synopsis: readonly string[];
  /** What the command does, one short paragraph. */
  readonly about: string;
  readonly options: O;
  /** Words that are not options are allowed (log files, a directory). */
  readonly positionals: boolean;
  /** Everything after the first `--` is not the command's (a server command, the second side). */
  readonly splitAtDashes: boolean;
}

type ValueOf<S> = S extends FlagOption ? boolean : S extends WholeOption<infer D> ? number | D : S extends ChoiceOption<infer C> ? C : S extends TextOption ? string | undefined : never;
export type OptionValues<O extends Record<string, OptionSpec>> = { readonly [K in keyof O]: ValueOf<O[K]> };

export interface ParsedCommand<O extends Record<string, OptionSpec>> {
  readonly help: false;
  readonly values: OptionValues<O>;
  readonly positionals: string[];
  /** The words after the first `--` (with `splitAtDashes`); null when there was no `--`. */
  readonly afterDashes: string[] | null;
}

/** `--help` is every command's, listed last in every usage. */
const HELP: FlagOption = flag('print this usage and exit');

/** The usage text: synopsis, what it does, and every option the command takes. */
export function usageOf(spec: CommandSpec): string {
  const lines = spec.synopsis.map((s, i) => `${i === 0 ? 'usage: ' : '       '}${s}`);
  lines.push('', ...wrap(spec.about, 90), '', 'options:');
  for (const [name, o] of [...Object.entries(spec.options), ['help', HELP] as const]) {
    const left = o.kind === 'flag' ? `--${name}` : `--${name} ${o.value}`;
    const help = wrap(o.kind === 'text' && o.short !== undefined ? `(or -${o.short} ${o.value}) ${o.help}` : o.help, 70);
    lines.push(`  ${left.padEnd(17)}  ${help[0]}`);
    for (const more of help.slice(1)) lines.push(`${' '.repeat(21)}${more}`);
  }
  return lines.join('\n') + '\n';
}

function wrap(textIn: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of textIn.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) { out.push(line); line = word; }
    else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}

/** A usage error of `spec`: one line naming the command, then its usage (exit 2). */
export function usageError(spec: CommandSpec, message: string): UsageError {
  return new UsageError(`${spec.name}: ${message}\n\n${usageOf(spec)}`);
}

/** parseArgs's own messages, said in one short line each. */
function parseFailure(err: Error & { code?: string }): string {
  const name = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name !== undefined) return `unknown option ${name}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && name !== undefined) return `${name} needs a value (a value starting with - is written ${name}=VALUE)`;
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''}`.trimEnd();
  return err.message;
}

/**
 * Read `argv` as `spec` says. `{ help: true }` when `--help` is among the command's own
 * words (print `usageOf(spec)` to stdout and exit 0); otherwise the checked values.
 * Throws `usageError` for an unknown option, a missing or bad value, a stray word.
 */
export function parseCommand<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): ParsedCommand<O> | { readonly help: true } {
  const dd = spec.splitAtDashes ? argv.indexOf('--') : -1;
  const own = dd < 0 ? [...argv] : argv.slice(0, dd);
  if (own.includes('--help')) return { help: true };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(spec.options)) config[name] = { type: o.kind === 'flag' ? 'boolean' : 'string', ...(o.kind === 'text' && o.short !== undefined ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: config, strict: true, allowPositionals: spec.positionals });
  } catch (err) {
    throw usageError(spec, parseFailure(err as Error));
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const v = raw[name];
    if (o.kind === 'flag') values[name] = v === true;
    else if (o.kind === 'text') values[name] = v;
    else if (v === undefined) values[name] = o.default;
    else if (typeof v !== 'string') throw usageError(spec, `--${name} needs a value`);
    else if (o.kind === 'whole') {
      if (!/^\d+$/.test(v) || Number(v) < o.min) throw usageError(spec, `--${name} needs a whole number${o.min > 0 ? ` from ${o.min}` : ''}, got ${JSON.stringify(v)}`);
      values[name] = Number(v);
    } else {
      if (!o.choices.includes(v)) throw usageError(spec, `--${name} needs ${o.choices.join(', ').replace(/, ([^,]*)$/, ' or $1')}, got ${JSON.stringify(v)}`);
      values[name] = v;
    }
  }
  return { help: false, values: values as OptionValues<O>, positionals: parsed.positionals, afterDashes: dd < 0 ? null : argv.slice(dd + 1) };
}

/** Print a command's usage on stdout; the exit code of `--help`. */
export function printUsage(spec: CommandSpec, out: NodeJS.WritableStream = process.stdout): number {
  out.write(usageOf(spec));
  return 0;
}
