import type { Knex } from 'knex';
import { ConfigError, MigrationError } from '../errors.js';
import { assertIdentifier, generatedName, quoteColumns, quoteIdentifier, quoteQualified } from '../identifiers.js';
import { constraintInfo, resolveSchema, type SchemaOption } from './catalog.js';
import { concurrentIndexSteps } from './indexes.js';
import type { OperationPlan, PlanStep } from './plan.js';
import { runPlan } from './run.js';
import { checkExpression, notOursError, sameExpression, sameForeignKey, sameUnique } from './ownership.js';
import { buildStatement, expressionSql, parser, type RawSql } from './sql.js';

/** The VALIDATE step: its own transaction, no statement timeout (SHARE UPDATE EXCLUSIVE only). */
export function validateStep(schema: string, table: string, name: string): PlanStep {
  return {
    sql: `ALTER TABLE ${quoteQualified(schema, table)} VALIDATE CONSTRAINT ${quoteIdentifier(name)}`,
    transaction: 'own',
    statementTimeout: false,
    description: 'check the existing rows in a transaction of its own, without blocking writes',
  };
}

function dropConstraintReverse(table: string, name: string): string {
  return `await knex.raw('ALTER TABLE ?? DROP CONSTRAINT IF EXISTS ??', [${JSON.stringify(table)}, ${JSON.stringify(name)}]);`;
}

function expectType(operation: string, schema: string, table: string, name: string, found: string, wanted: string): void {
  if (found !== wanted) {
    throw new MigrationError(`${operation}: a constraint ${quoteIdentifier(name)} of another kind ('${found}') already exists on ${quoteQualified(schema, table)}.`, {
      details: { operation, constraint: name },
    });
  }
}

/** Options of {@link addUniqueConstraint}. */
export interface AddUniqueConstraintOptions extends SchemaOption {
  /** The constraint (and index) name. @default `<table>_<columns>_unique` */
  readonly name?: string;
}

/**
 * Adds a UNIQUE constraint without a blocking index build (post-deploy): the unique index is
 * built concurrently, then attached as the constraint, which is a catalog change.
 *
 * SQL: `CREATE UNIQUE INDEX CONCURRENTLY "name" ON "s"."t" ("c"); ALTER TABLE "s"."t" ADD CONSTRAINT "name" UNIQUE USING INDEX "name"`
 *
 * Reverse: `ALTER TABLE "t" DROP CONSTRAINT "name"` (printed in the plan).
 * @example
 * await addUniqueConstraint(knex, 'users', ['email']);
 */
export async function addUniqueConstraint(
  knex: Knex,
  table: string,
  columns: string | readonly string[],
  options: AddUniqueConstraintOptions = {},
): Promise<OperationPlan> {
  const operation = 'addUniqueConstraint';
  const schema = await resolveSchema(knex, options.schema);
  const list = typeof columns === 'string' ? [columns] : [...columns];
  const name = options.name ?? generatedName([table, ...list, 'unique']);
  assertIdentifier(name, 'constraint name');
  const existing = await constraintInfo(knex, schema, table, name);
  let steps: PlanStep[] = [];
  if (existing) {
    expectType(operation, schema, table, name, existing.type, 'u');
    await parser();
    if (!sameUnique(existing.definition, list)) {
      throw notOursError({
        operation,
        what: 'a constraint',
        schema,
        name,
        table,
        definition: existing.definition,
        expected: `UNIQUE (${quoteColumns(list)})`,
        option: `Choose another name with { name: '…' }.`,
      });
    }
  } else {
    const createSql = `CREATE UNIQUE INDEX CONCURRENTLY ${quoteIdentifier(name)} ON ${quoteQualified(schema, table)} (${quoteColumns(list)})`;
    steps = [
      ...(await concurrentIndexSteps(knex, operation, schema, table, name, createSql)),
      {
        sql: `ALTER TABLE ${quoteQualified(schema, table)} ADD CONSTRAINT ${quoteIdentifier(name)} UNIQUE USING INDEX ${quoteIdentifier(name)}`,
        transaction: 'inherit',
        description: 'attach the index as the constraint (catalog only)',
      },
    ];
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: dropConstraintReverse(table, name) });
}

/**
 * Adds a CHECK constraint without a long blocking scan (post-deploy): `NOT VALID` takes a brief
 * lock and checks new writes only; `VALIDATE CONSTRAINT` then checks the existing rows in its
 * own transaction, under a lock that lets reads and writes go on. Resumes at VALIDATE when an
 * earlier run stopped there.
 *
 * SQL: `ALTER TABLE "s"."t" ADD CONSTRAINT "name" CHECK (<expression>) NOT VALID; ALTER TABLE "s"."t" VALIDATE CONSTRAINT "name"`
 *
 * The expression is SQL: a string or `knex.raw(...)` parsed as one expression; the parser's
 * rendering is what runs. A constraint of that name must be this CHECK to be resumed.
 *
 * Reverse: `ALTER TABLE "t" DROP CONSTRAINT "name"` (printed in the plan).
 * @example
 * await addCheckConstraint(knex, 'orders', 'orders_total_positive', 'total >= 0');
 */
export async function addCheckConstraint(
  knex: Knex,
  table: string,
  name: string,
  expression: string | RawSql,
  options: SchemaOption = {},
): Promise<OperationPlan> {
  const operation = 'addCheckConstraint';
  const schema = await resolveSchema(knex, options.schema);
  assertIdentifier(name, 'constraint name');
  const check = await expressionSql(expression, 'check expression');
  const addSql = buildStatement([check], ([c]) => `ALTER TABLE ${quoteQualified(schema, table)} ADD CONSTRAINT ${quoteIdentifier(name)} CHECK ${c} NOT VALID`);
  const existing = await constraintInfo(knex, schema, table, name);
  let steps: PlanStep[];
  if (!existing) {
    steps = [{ sql: addSql, transaction: 'inherit', description: 'check new writes only (brief lock)' }, validateStep(schema, table, name)];
  } else {
    expectType(operation, schema, table, name, existing.type, 'c');
    if (!sameExpression(checkExpression(existing.definition), check.node)) {
      throw notOursError({
        operation,
        what: 'a constraint',
        schema,
        name,
        table,
        definition: existing.definition,
        expected: `CHECK (${check.sql})`,
        option: 'Give this CHECK another name.',
      });
    }
    steps = existing.validated ? [] : [validateStep(schema, table, name)];
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: dropConstraintReverse(table, name) });
}

/** The referential actions a foreign key accepts. */
export type ReferentialAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';
const ACTIONS: readonly string[] = ['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT'];

/** Options of {@link addForeignKey}. */
export interface AddForeignKeyOptions extends SchemaOption {
  /** The constraint name. @default `<table>_<columns>_foreign` */
  readonly name?: string;
  /** @default 'NO ACTION' (not written out) */
  readonly onDelete?: ReferentialAction | Lowercase<ReferentialAction>;
  /** @default 'NO ACTION' (not written out) */
  readonly onUpdate?: ReferentialAction | Lowercase<ReferentialAction>;
  /** The referenced table's schema. @default the table's schema */
  readonly refSchema?: string;
}

function action(clause: string, value: string | undefined): string {
  if (value === undefined) return '';
  const upper = value.toUpperCase();
  if (!ACTIONS.includes(upper)) throw new ConfigError(`addForeignKey: ${clause.toLowerCase()} must be one of ${ACTIONS.join(', ')}; got ${JSON.stringify(value)}.`);
  return ` ${clause} ${upper}`;
}

/**
 * Adds a foreign key without a long blocking scan (post-deploy): `NOT VALID` takes brief
 * SHARE ROW EXCLUSIVE locks on both tables and checks new writes only; `VALIDATE CONSTRAINT`
 * then checks existing rows in its own transaction without blocking writes. Resumes at VALIDATE.
 *
 * SQL: `ALTER TABLE "s"."t" ADD CONSTRAINT "name" FOREIGN KEY ("c") REFERENCES "s"."r" ("id") [ON DELETE …] NOT VALID; ALTER TABLE "s"."t" VALIDATE CONSTRAINT "name"`
 *
 * Reverse: `ALTER TABLE "t" DROP CONSTRAINT "name"` (printed in the plan).
 * @example
 * await addForeignKey(knex, 'orders', ['customer_id'], 'customers', ['id'], { onDelete: 'CASCADE' });
 */
export async function addForeignKey(
  knex: Knex,
  table: string,
  columns: string | readonly string[],
  refTable: string,
  refColumns: string | readonly string[],
  options: AddForeignKeyOptions = {},
): Promise<OperationPlan> {
  const operation = 'addForeignKey';
  const schema = await resolveSchema(knex, options.schema);
  const refSchema = options.refSchema ?? schema;
  const list = typeof columns === 'string' ? [columns] : [...columns];
  const refList = typeof refColumns === 'string' ? [refColumns] : [...refColumns];
  if (list.length !== refList.length) throw new ConfigError(`addForeignKey: ${list.length} column(s) cannot reference ${refList.length} column(s).`);
  const name = options.name ?? generatedName([table, ...list, 'foreign']);
  assertIdentifier(name, 'constraint name');
  const actions = action('ON DELETE', options.onDelete) + action('ON UPDATE', options.onUpdate);
  const clause = `FOREIGN KEY (${quoteColumns(list)}) REFERENCES ${quoteQualified(refSchema, refTable)} (${quoteColumns(refList)})${actions}`;
  const existing = await constraintInfo(knex, schema, table, name);
  let steps: PlanStep[];
  if (!existing) {
    steps = [
      {
        sql: `ALTER TABLE ${quoteQualified(schema, table)} ADD CONSTRAINT ${quoteIdentifier(name)} ${clause} NOT VALID`,
        transaction: 'inherit',
        description: 'check new writes only (brief lock on both tables)',
      },
      validateStep(schema, table, name),
    ];
  } else {
    expectType(operation, schema, table, name, existing.type, 'f');
    await parser();
    const sameTable = existing.references?.schema === refSchema && existing.references.table === refTable;
    if (!sameTable || !sameForeignKey(existing.definition, clause)) {
      throw notOursError({
        operation,
        what: 'a constraint',
        schema,
        name,
        table,
        definition: existing.definition,
        expected: clause,
        option: `Choose another name with { name: '…' }.`,
      });
    }
    steps = existing.validated ? [] : [validateStep(schema, table, name)];
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: dropConstraintReverse(table, name) });
}
