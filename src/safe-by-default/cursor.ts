import { MigrationError } from '../errors.js';
import { candidateOf } from './candidate.js';
import type { SafeFormDirective } from './directive.js';

/** A statement with a safe form, as one run of a migration sent it: its place among them, and its directive if the plan runs it in its safe form. */
export interface CountedStatement {
  readonly ordinal: number;
  readonly directive: SafeFormDirective | null;
}

/**
 * Follows one run of one migration (analysis or the real run) through its statements that have a
 * safe form, and tells which of them the plan runs in their safe form. A statement that is not
 * the one the plan saw at that place is refused before anything of it is sent: the migration
 * sends something else than it did during analysis, and the plan no longer says what runs.
 */
export class SafeFormCursor {
  private count = 0;

  constructor(private readonly directives: readonly SafeFormDirective[] = []) {}

  /**
   * Counts a text the migration sends (the parser must be loaded). `position` maps the planned
   * statement to the form the text was given in (the driver's, with knex's `?` → `$n`).
   */
  take(text: string, bindings?: readonly unknown[], position: (sql: string) => string = (sql) => sql): CountedStatement | null {
    const candidate = candidateOf(text, bindings);
    if (candidate === null) return null;
    const ordinal = this.count++;
    const directive = this.directives.find((d) => d.ordinal === ordinal) ?? null;
    if (directive !== null && candidate.sql !== position(directive.sql)) {
      throw new MigrationError(
        `The migration sent\n  ${candidate.sql}\nwhere its plan has\n  ${directive.sql}\nwhich safeByDefault runs in its safe form: the migration does not send what it sent when it was analysed, so the plan no longer says what runs. Nothing of that statement was sent; statements before it were committed. Plan again (knex-zd migrate:plan) and run the migration again.`,
        { details: { statement: candidate.sql, planned: directive.sql, ordinal } },
      );
    }
    return { ordinal, directive };
  }

  /** Passes a statement that the runner replaced by its safe form before it reached this count (the shadow's tracer sees only the safe form). */
  passed(ordinal: number): void {
    this.count = Math.max(this.count, ordinal + 1);
  }
}
