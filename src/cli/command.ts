import type { FlagSpec, ParsedFlags } from './flags.js';
import type { Output } from './output.js';

/** A CLI command: its flags, its help, and a function that returns the exit code. */
export interface Command {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) and flag descriptions for `--help`. */
  readonly help: string;
  readonly flags: FlagSpec;
  run(flags: ParsedFlags, output: Output): Promise<number>;
}

/** Exit codes a deploy pipeline can rely on. */
export const EXIT = Object.freeze({
  /** Done (or nothing to do). */
  ok: 0,
  /** A check failed, a migration failed, the quorum failed: the deploy must stop. */
  failure: 1,
  /** Bad input: an unknown flag or command, a bad knexfile option, no knexfile, no connection. */
  usage: 2,
});
