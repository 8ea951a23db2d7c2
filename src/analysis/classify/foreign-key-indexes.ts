/**
 * A foreign key needs an index that leads with its referencing columns, or every delete (and key
 * update) of the referenced table scans the referencing one. Judged once the migration is done,
 * against the schema model: an index created later in the same migration counts.
 */
import type { SchemaModel } from '../catalog/schema-model.js';
import { foreignKeyWithoutIndex } from '../findings.js';
import type { StatementAnalysis } from '../types.js';

/** The statements with a `foreign-key-without-index` warning on each foreign key no index leads with. */
export function foreignKeyIndexFindings(statements: readonly StatementAnalysis[], model: SchemaModel | null): StatementAnalysis[] {
  if (!model) return [...statements];
  return statements.map((statement) => {
    if (!statement.foreignKeys?.length) return statement;
    const missing = statement.foreignKeys.filter((fk) => {
      if (model.relation(fk.table) === undefined) return false; // nothing known: say nothing
      const wanted = new Set(fk.columns);
      return !model.indexesOf(fk.table).some((index) => index.columns.length >= wanted.size && index.columns.slice(0, wanted.size).every((c) => c !== null && wanted.has(c)));
    });
    if (missing.length === 0) return statement;
    return { ...statement, findings: [...statement.findings, ...missing.map((fk) => foreignKeyWithoutIndex(fk))] };
  });
}
