import type { Knex } from 'knex';
import { MigrationError } from '../errors.js';
import { assertIdentifier, generatedName, quoteIdentifier, quoteQualified } from '../identifiers.js';
import { columnInfo, constraintInfo, resolveSchema, serverVersionNum, type SchemaOption } from './catalog.js';
import { validateStep } from './constraints.js';
import { checkExpression, notOursError, sameExpression } from './ownership.js';
import { expressionSql } from './sql.js';
import { activeCaptureRecorder, type OperationPlan, type PlanStep } from './plan.js';
import { runPlan } from './run.js';

/** The CHECK constraint that carries a NOT NULL through validation (PostgreSQL < 18). */
export function notNullCheckName(table: string, column: string): string {
  return generatedName([table, column, 'not_null']);
}

/** Options of {@link setNotNull}. */
export interface SetNotNullOptions extends SchemaOption {
  /** Use PostgreSQL 18's `NOT NULL … NOT VALID` constraint. @default true on PostgreSQL 18+, false before */
  readonly native?: boolean;
  /** The name of the constraint that carries the NOT NULL while it is validated. @default `<table>_<column>_not_null` */
  readonly name?: string;
}

async function nativeNotNull(knex: Knex, schema: string, table: string, column: string): Promise<{ name: string; validated: boolean } | null> {
  const result = await knex.raw<{ rows: { conname: string; convalidated: boolean }[] }>(
    `SELECT con.conname, con.convalidated
     FROM pg_catalog.pg_constraint con
     JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = ?
     WHERE n.nspname = ? AND c.relname = ? AND con.contype = 'n' AND con.conkey = ARRAY[a.attnum]`,
    [column, schema, table],
  );
  const row = result.rows[0];
  return row ? { name: row.conname, validated: row.convalidated } : null;
}

/**
 * Makes a column NOT NULL without a long blocking scan (post-deploy: old code may still write
 * NULLs). Before PostgreSQL 18: `CHECK ("c" IS NOT NULL) NOT VALID` (brief lock), `VALIDATE`
 * in its own transaction (no write blocking), then `SET NOT NULL`, which PostgreSQL 12+ proves
 * from the valid CHECK without scanning, then the CHECK is dropped. On PostgreSQL 18: the
 * native `NOT NULL … NOT VALID` constraint, then `VALIDATE`. Resumes wherever an earlier run stopped.
 * A constraint of that name that is not exactly `CHECK ("c" IS NOT NULL)` is a user's: the operation
 * refuses (pass `{ name }` to use another) and never validates or drops it.
 *
 * SQL (< 18): `ALTER TABLE "s"."t" ADD CONSTRAINT "t_c_not_null" CHECK ("c" IS NOT NULL) NOT VALID;
 *  ALTER TABLE "s"."t" VALIDATE CONSTRAINT "t_c_not_null"; ALTER TABLE "s"."t" ALTER COLUMN "c" SET NOT NULL;
 *  ALTER TABLE "s"."t" DROP CONSTRAINT "t_c_not_null"`
 *
 * SQL (18+): `ALTER TABLE "s"."t" ADD CONSTRAINT "t_c_not_null" NOT NULL "c" NOT VALID; ALTER TABLE "s"."t" VALIDATE CONSTRAINT "t_c_not_null"`
 *
 * Reverse: `dropNotNull(knex, table, column)`.
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await setNotNull(knex, 'users', 'email'); }
 */
export async function setNotNull(knex: Knex, table: string, column: string, options: SetNotNullOptions = {}): Promise<OperationPlan> {
  const operation = 'setNotNull';
  const schema = await resolveSchema(knex, options.schema);
  const steps = await setNotNullSteps(knex, operation, schema, table, column, options);
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: `await dropNotNull(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)});` });
}

/** The steps of {@link setNotNull} for a column, from what the catalog shows (also the safe form of `SET NOT NULL` under `safeByDefault`). @internal */
export async function setNotNullSteps(
  knex: Knex,
  operation: string,
  schema: string,
  table: string,
  column: string,
  options: Pick<SetNotNullOptions, 'native' | 'name'> = {},
): Promise<PlanStep[]> {
  const info = await columnInfo(knex, schema, table, column);
  // While analysing, the column may come from an earlier migration that is still pending:
  // plan as if it were there and nullable, which is what will be true when this one runs.
  if (!info && !activeCaptureRecorder()) throw new MigrationError(`${operation}: the column ${quoteQualified(schema, table)}.${quoteIdentifier(column)} does not exist.`, { details: { operation } });
  const target = quoteQualified(schema, table);
  const name = options.name ?? notNullCheckName(table, column);
  assertIdentifier(name, 'constraint name');
  const native = options.native ?? (await serverVersionNum(knex)) >= 180000;
  if (native) {
    // PostgreSQL 18 records NOT NULL in pg_constraint; attnotnull is set even while NOT VALID.
    const existing = await nativeNotNull(knex, schema, table, column);
    if (!existing) {
      return [
        { sql: `ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdentifier(name)} NOT NULL ${quoteIdentifier(column)} NOT VALID`, transaction: 'inherit', description: 'refuse new NULLs (brief lock)' },
        validateStep(schema, table, name),
      ];
    }
    return existing.validated ? [] : [validateStep(schema, table, existing.name)];
  }
  const check = await constraintInfo(knex, schema, table, name);
  if (check) {
    const ours = await expressionSql(`${quoteIdentifier(column)} IS NOT NULL`, 'check expression');
    if (check.type !== 'c' || !sameExpression(checkExpression(check.definition), ours.node)) {
      throw notOursError({
        operation,
        what: 'a constraint',
        schema,
        name,
        table,
        definition: check.definition,
        expected: `CHECK (${quoteIdentifier(column)} IS NOT NULL)`,
        option: `Pass another name for the temporary CHECK: setNotNull(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)}, { name: '…' }).`,
      });
    }
  }
  const addCheck: PlanStep = {
    sql: `ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdentifier(name)} CHECK (${quoteIdentifier(column)} IS NOT NULL) NOT VALID`,
    transaction: 'inherit',
    description: 'refuse new NULLs (brief lock)',
  };
  const setStep: PlanStep = {
    sql: `ALTER TABLE ${target} ALTER COLUMN ${quoteIdentifier(column)} SET NOT NULL`,
    transaction: 'inherit',
    description: 'no scan: PostgreSQL uses the valid CHECK as proof',
  };
  const dropCheck: PlanStep = { sql: `ALTER TABLE ${target} DROP CONSTRAINT ${quoteIdentifier(name)}`, transaction: 'inherit', description: 'the CHECK is redundant now' };
  if (info?.notNull) return check ? [dropCheck] : [];
  if (!check) return [addCheck, validateStep(schema, table, name), setStep, dropCheck];
  if (!check.validated) return [validateStep(schema, table, name), setStep, dropCheck];
  return [setStep, dropCheck];
}

/**
 * Drops a column's NOT NULL (pre-deploy: it loosens, so old code is unaffected). Catalog-only.
 * On PostgreSQL 18 this also drops the NOT NULL constraint. Skipped when the column is nullable.
 *
 * SQL: `ALTER TABLE "s"."t" ALTER COLUMN "c" DROP NOT NULL`
 *
 * Reverse: `setNotNull(knex, table, column)`.
 * @example
 * await dropNotNull(knex, 'users', 'legacy_code');
 */
export async function dropNotNull(knex: Knex, table: string, column: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'dropNotNull';
  const schema = await resolveSchema(knex, options.schema);
  const info = await columnInfo(knex, schema, table, column);
  // While analysing, a column still to be added by a pending migration gets the DROP planned.
  if (!info && !activeCaptureRecorder()) throw new MigrationError(`dropNotNull: the column ${quoteQualified(schema, table)}.${quoteIdentifier(column)} does not exist.`, { details: { operation } });
  const steps: PlanStep[] = (info?.notNull ?? true)
    ? [{ sql: `ALTER TABLE ${quoteQualified(schema, table)} ALTER COLUMN ${quoteIdentifier(column)} DROP NOT NULL`, transaction: 'inherit' }]
    : [];
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await setNotNull(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)});` });
}
