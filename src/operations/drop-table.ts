import type { Knex } from 'knex';
import { MigrationError } from '../errors.js';
import { quoteQualified } from '../identifiers.js';
import { referencingForeignKeys, relationKind, resolveSchema, isTableKind, type SchemaOption } from './catalog.js';
import type { OperationPlan } from './plan.js';
import { describeKind } from './rename-table.js';
import { runPlan } from './run.js';

/**
 * Drops a table (post-deploy, once no running code uses it). Refuses when foreign keys of
 * other tables reference it: `CASCADE` would silently drop them, and their tables' writers
 * would lose a guarantee. Skipped when the table is gone.
 *
 * SQL: `DROP TABLE "s"."t"`
 *
 * Reverse: none (the data is gone); recreate the table with `knex.schema.createTable`.
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await dropTable(knex, 'legacy_sessions'); }
 */
export async function dropTable(knex: Knex, table: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'dropTable';
  const schema = await resolveSchema(knex, options.schema);
  const kind = await relationKind(knex, schema, table);
  let steps: OperationPlan['steps'] = [];
  if (isTableKind(kind)) {
    const referencing = await referencingForeignKeys(knex, schema, table);
    if (referencing.length > 0) {
      throw new MigrationError(
        `dropTable: ${quoteQualified(schema, table)} is referenced by foreign keys of ${referencing.join(', ')}; DROP TABLE … CASCADE would drop them silently. Drop them first, in this or an earlier post-deploy migration:\n` +
          referencing.map((r) => `  await knex.raw('ALTER TABLE … DROP CONSTRAINT …'); // ${r}`).join('\n'),
        { details: { operation, referencing } },
      );
    }
    steps = [{ sql: `DROP TABLE ${quoteQualified(schema, table)}`, transaction: 'inherit' }];
  } else if (kind !== null) {
    throw new MigrationError(`dropTable: ${quoteQualified(schema, table)} is ${describeKind(kind)}, not a table.`, { details: { operation } });
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: '// none: recreate the table with knex.schema.createTable' });
}
