import type { Settings } from '../config.js';
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import type { TargetFacts } from '../analysis/table-stats.js';

/** What a check sees: every migration's analysis, in file order, and the settings. */
export interface CheckContext {
  readonly migrations: readonly MigrationReport[];
  readonly settings: Settings;
  /** The target database's version and table sizes, when the caller read them (one query per plan). */
  readonly target?: TargetFacts;
}

/** A system check with a stable id, like Django's `manage.py check`. */
export interface Check {
  /** Stable id, used in output and in the `checks` option, e.g. `'ambiguous-stage'`. */
  readonly id: string;
  /** One line: what the check looks for. */
  readonly description: string;
  /** The finding codes it reports, when they are not just its `id` (each one is a key of the `checks` option). */
  readonly codes?: readonly string[];
  /** One line per code of `codes`: what that code finds (else `description`). */
  readonly descriptions?: Readonly<Record<string, string>>;
  /** True for the unsafe-operation checks that `checks.unsafe` sets at once. */
  readonly unsafe: boolean;
  run(context: CheckContext): readonly CheckFinding[];
}
