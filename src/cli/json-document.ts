import { ZeroDowntimeError, sqlStateOf } from '../errors.js';
import type { Command } from './command.js';
import type { ParsedFlags } from './flags.js';

/**
 * The one JSON document a `--json` run prints on stdout, whatever happens: `ok` first (true
 * exactly when the exit code is 0), then the command's own fields.
 */
export function jsonDocument(ok: boolean, body: Readonly<Record<string, unknown>>): string {
  return JSON.stringify({ ok, ...body }, null, 2);
}

/** The error a `--json` run reports, inside its document. */
export interface JsonError {
  /** The stable code of knex-zd's errors (`ZD_CONFIG`, `ZD_CHECK_FAILED`, `ZD_MIGRATION`…), else `ZD_ERROR`. */
  readonly code: string;
  readonly message: string;
  /** The process's exit code: 1 for a failure, 2 for bad input. */
  readonly exitCode: number;
  /** The driver's SQLSTATE, when PostgreSQL refused something. */
  readonly sqlState: string | null;
  /** The evidence the error carries: findings, the migration, the missing files… */
  readonly details: Readonly<Record<string, unknown>>;
}

/** `{ "ok": false, "error": { code, message, exitCode, sqlState, details } }` for an error that ended the command. */
export function errorDocument(error: unknown, exitCode: number, extra: Readonly<Record<string, unknown>> = {}): string {
  const zd = error instanceof ZeroDowntimeError ? error : null;
  const described: JsonError = {
    code: zd?.code ?? 'ZD_ERROR',
    message: error instanceof Error ? error.message : String(error),
    exitCode,
    sqlState: sqlStateOf(error) ?? null,
    details: zd?.details ?? {},
  };
  return jsonDocument(false, { error: described, ...extra });
}

/**
 * True when this run of `command` asked for JSON (`--json`, `--format json`), read from the
 * parsed flags, or from the raw arguments when they did not parse.
 */
export function wantsJson(command: Command, args: readonly string[], values?: ParsedFlags['values']): boolean {
  if (!('json' in command.flags) && !('format' in command.flags)) return false;
  if (values) return values.json === true || values.format === 'json';
  return args.some((arg, i) => arg === '--json' || arg === '--format=json' || (arg === '--format' && args[i + 1] === 'json'));
}
