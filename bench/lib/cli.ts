// Command-line plumbing shared by the benches: `--name value` / `--name=value` options with
// range-checked getters, boolean flags, a main() wrapper that sets the exit code and never lets
// a lingering handle hang the caller, and the checks of the server a load bench is pointed at.

import { resolveLoopbackHost } from './loopback.js';
import { readRssBytes } from './proc.js';

export class UsageError extends Error {}

/**
 * Parsed `--name value` options. Construct with the known option and flag names, and how many
 * plain arguments (not starting with `--`) may come among them.
 */
export class Args {
  private readonly raw = new Map<string, string>();
  private readonly flags = new Set<string>();
  /** True when --help / -h was given. */
  readonly help: boolean = false;
  /** The plain arguments, in order (at most `maxPositionals`). */
  readonly positionals: string[] = [];

  constructor(argv: string[], options: readonly string[], flags: readonly string[] = [], maxPositionals = 0) {
    const knownOpts = new Set(options);
    const knownFlags = new Set(flags);
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === '--help' || arg === '-h') {
        this.help = true;
        return;
      }
      if (!arg.startsWith('--')) {
        if (this.positionals.length >= maxPositionals) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
        this.positionals.push(arg);
        continue;
      }
      let name = arg.slice(2);
      if (knownFlags.has(name)) {
        this.flags.add(name);
        continue;
      }
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      } else {
        value = argv[++i];
        if (value === undefined && knownOpts.has(name)) throw new UsageError(`--${name} needs a value`);
      }
      if (!knownOpts.has(name)) throw new UsageError(`unknown option --${name}`);
      this.raw.set(name, value!);
    }
  }

  has(name: string): boolean {
    return this.raw.has(name);
  }

  flag(name: string): boolean {
    return this.flags.has(name);
  }

  str(name: string, def: string): string {
    return this.raw.get(name) ?? def;
  }

  optStr(name: string): string | null {
    return this.raw.get(name) ?? null;
  }

  /** A non-negative integer; `_` separators allowed (1_000_000). */
  int(name: string, def: number, min: number, max: number): number {
    const v = this.raw.get(name);
    if (v === undefined) return def;
    return parseIntIn(`--${name}`, v, min, max);
  }

  optInt(name: string, min: number, max: number): number | null {
    return this.raw.has(name) ? this.int(name, 0, min, max) : null;
  }

  num(name: string, def: number, min: number, max: number): number {
    const v = this.raw.get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
    if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  /** Comma-separated integers, each within [min, max]. */
  intList(name: string, def: number[], min: number, max: number): number[] {
    const v = this.raw.get(name);
    if (v === undefined) return def;
    const out = v.split(',').map((s) => parseIntIn(`--${name}`, s.trim(), min, max));
    if (out.length === 0) throw new UsageError(`--${name} must not be empty`);
    return out;
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, def: T, choices: readonly T[]): T {
    const v = this.raw.get(name);
    if (v === undefined) return def;
    if (!(choices as readonly string[]).includes(v))
      throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  /** A label for tables and file names. */
  label(def: string): string {
    const label = this.str('label', def);
    if (!/^[A-Za-z0-9._-]+$/.test(label)) throw new UsageError('--label may only contain letters, digits, ".", "_" and "-"');
    return label;
  }
}

function parseIntIn(what: string, v: string, min: number, max: number): number {
  const t = v.replace(/_/g, '');
  if (!/^\d+$/.test(t)) throw new UsageError(`${what} must be an integer, got ${JSON.stringify(v)}`);
  const n = Number(t);
  if (n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * Runs `main` and exits with its code: 2 for a UsageError (printed with the usage text), 1 for
 * any other error. Should a handle still linger afterwards, exits anyway after 3 s.
 */
export function runMain(tool: string, usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => {
        process.stderr.write(`${tool}: open handles remain after the run; exiting\n`);
        process.exit(code);
      }, 3000).unref();
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${tool}: ${err.message}\n\n${usage}\n`);
        process.exit(2);
      }
      process.stderr.write(`${tool}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * runMain for a bench with options: `parse` reads them from the command line (null for --help,
 * which prints the usage and exits 0), then `main` runs with them.
 */
export function runWithOptions<O>(
  tool: string,
  usage: string,
  parse: (argv: string[]) => O | null,
  main: (opts: O) => Promise<number>,
): void {
  runMain(tool, usage, async () => {
    const opts = parse(process.argv.slice(2));
    if (opts === null) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    return main(opts);
  });
}

/** runWithOptions for a bench that sends load to `opts.host`: `main` runs once checkTarget passed. */
export function runLoadMain<O extends { host: string; pid: number | null }>(
  tool: string,
  usage: string,
  parse: (argv: string[]) => O | null,
  main: (opts: O, host: string) => Promise<number>,
): void {
  runWithOptions(tool, usage, parse, async (opts) => {
    const host = await checkTarget(tool, opts.host, opts.pid);
    return host === null ? 2 : main(opts, host);
  });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/**
 * Checks the server a load bench was pointed at: `host` must be a loopback address and a `pid`,
 * if given, a process whose RSS /proc shows. Returns the resolved address; otherwise prints why
 * (`<tool>: <reason>`) and returns null (exit status 2).
 */
export async function checkTarget(tool: string, host: string, pid: number | null): Promise<string | null> {
  let address: string;
  try {
    address = await resolveLoopbackHost(host);
  } catch (err) {
    process.stderr.write(`${tool}: ${(err as Error).message}\n`);
    return null;
  }
  if (pid !== null && readRssBytes(pid) === null) {
    process.stderr.write(`${tool}: cannot read VmRSS from /proc/${pid}/status (no such process?)\n`);
    return null;
  }
  return address;
}
