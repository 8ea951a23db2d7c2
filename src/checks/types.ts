import type { Settings } from '../config.js';
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';

/** What a check sees: every migration's analysis, in file order, and the settings. */
export interface CheckContext {
  readonly migrations: readonly MigrationReport[];
  readonly settings: Settings;
}

/** A system check with a stable id, like Django's `manage.py check`. */
export interface Check {
  /** Stable id, used in output and in the `checks` option, e.g. `'ambiguous-stage'`. */
  readonly id: string;
  /** One line: what the check looks for. */
  readonly description: string;
  /** True for the unsafe-operation checks that `checks.unsafe` sets at once. */
  readonly unsafe: boolean;
  run(context: CheckContext): readonly CheckFinding[];
}
