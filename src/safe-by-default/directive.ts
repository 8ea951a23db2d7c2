import type { Finding } from '../analysis/types.js';
import type { Stage } from '../stages.js';

/**
 * The statement forms that have a safe equivalent:
 * - `'index'`: `CREATE INDEX` → `CREATE INDEX CONCURRENTLY`;
 * - `'foreign-key'` / `'check'`: `ADD CONSTRAINT` → `NOT VALID`, then `VALIDATE` in a transaction of its own;
 * - `'not-null'`: `SET NOT NULL` → a `CHECK (c IS NOT NULL) NOT VALID`, validated, then `SET NOT NULL` without a scan;
 * - `'unique'` / `'primary-key'`: a unique index built concurrently, then `ADD CONSTRAINT … USING INDEX`.
 */
export type SafeFormKind = 'index' | 'foreign-key' | 'check' | 'not-null' | 'unique' | 'primary-key';

/** A statement of a migration that runs in its safe form (`safeByDefault`): which one, and what analysis said of it as written. */
export interface SafeFormDirective {
  /** Its place among the migration's rewritable statements, in the order the migration sends them (0 is the first). */
  readonly ordinal: number;
  /** The statement as the migration sends it. */
  readonly sql: string;
  readonly kind: SafeFormKind;
  /** The stage of the statement as written: its safe form keeps it. */
  readonly stage: Stage | null;
  /** What analysis found about the statement as written (the refusal that its safe form answers, and any other finding). */
  readonly findings: readonly Finding[];
}
