import { ConfigError } from '../../common/config.js';

/** One operator command of `telemoat`: its usage line and what it does. */
export interface Command {
  usage: string;
  run(options: Options): Promise<void>;
}

export const print = (line: string) => process.stdout.write(`${line}\n`);

/** `--name value` or `--name=value` options, read by name; unknown ones are refused. */
export class Options {
  private readonly used = new Set<string>();

  private constructor(private readonly values: Map<string, string>) {}

  static parse(args: readonly string[]): Options {
    const values = new Map<string, string>();
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      const match = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
      if (!match) throw new ConfigError('command line', [`unexpected argument ${arg}`]);
      const value = match[2] ?? args[++i];
      if (value === undefined)
        throw new ConfigError('command line', [`--${match[1]}: needs a value`]);
      values.set(match[1]!, value);
    }
    return new Options(values);
  }

  optional(name: string): string | undefined {
    this.used.add(name);
    return this.values.get(name);
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined || value === '') {
      throw new ConfigError('command line', [`--${name}: required`]);
    }
    return value;
  }

  integer(name: string, range: { min: number; max: number; default?: number }): number {
    const text = range.default === undefined ? this.required(name) : this.optional(name);
    const value = text === undefined ? range.default! : Number(text);
    if (!Number.isInteger(value) || value < range.min || value > range.max) {
      throw new ConfigError('command line', [
        `--${name}: must be an integer ${range.min}-${range.max}`,
      ]);
    }
    return value;
  }

  /** Call after reading every option: anything the command did not ask for is a mistake. */
  rejectUnknown(): void {
    const unknown = [...this.values.keys()].filter((name) => !this.used.has(name));
    if (unknown.length > 0) {
      throw new ConfigError(
        'command line',
        unknown.map((name) => `--${name}: unknown option`),
      );
    }
  }
}
