import type { Knex } from 'knex';
import { MigrationError } from '../errors.js';
import { generatedName, quoteIdentifier, quoteQualified } from '../identifiers.js';
import { columnInfo, isTableKind, relationKind, resolveSchema, viewDefinition, viewReadsFrom, type SchemaOption } from './catalog.js';
import { passThroughView } from './ownership.js';
import { parser } from './sql.js';
import type { OperationPlan } from './plan.js';
import { describeKind } from './rename-table.js';
import { runPlan } from './run.js';

/**
 * The name the table carries between Part 1 and Part 2 of a column rename, while a view with
 * the table's own name shows the column under both names.
 */
export function renamingTableName(table: string): string {
  return generatedName([table, 'zd_renaming']);
}

function stateError(operation: string, message: string): MigrationError {
  return new MigrationError(`${operation}: ${message}`, { details: { operation } });
}

function viewSql(schema: string, table: string, from: string, to: string): string {
  return `CREATE VIEW ${quoteQualified(schema, table)} AS SELECT *, ${quoteIdentifier(to)} AS ${quoteIdentifier(from)} FROM ${quoteQualified(schema, renamingTableName(table))}`;
}

interface RenameState {
  readonly tableKind: string | null;
  readonly hiddenKind: string | null;
  readonly fromColumn: boolean;
  readonly toColumn: boolean;
  readonly hiddenHasTo: boolean;
  /** The table's name is the view of Part 1: every column of the hidden table, and `to` also as `from`. */
  readonly viewOverHidden: boolean;
  /** The view's definition, when the table's name is a view (for messages). */
  readonly viewDefinition: string | null;
}

/** Is `definition` the view Part 1 creates: `SELECT *, "to" AS "from" FROM hidden`? */
function isColumnRenameView(definition: string | null, hidden: string, from: string, to: string): boolean {
  if (definition === null) return false;
  const shape = passThroughView(definition);
  if (!shape || shape.from !== hidden) return false;
  const renamed = shape.columns.filter(([name, source]) => name !== source);
  return renamed.length === 1 && renamed[0][0] === from && renamed[0][1] === to && shape.columns.some(([name]) => name === to);
}

async function renameState(knex: Knex, schema: string, table: string, from: string, to: string): Promise<RenameState> {
  const hidden = renamingTableName(table);
  const [tableKind, hiddenKind] = await Promise.all([relationKind(knex, schema, table), relationKind(knex, schema, hidden)]);
  const [fromColumn, toColumn, hiddenHasTo, readsHidden, definition] = await Promise.all([
    isTableKind(tableKind) ? columnInfo(knex, schema, table, from).then(Boolean) : false,
    isTableKind(tableKind) ? columnInfo(knex, schema, table, to).then(Boolean) : false,
    isTableKind(hiddenKind) ? columnInfo(knex, schema, hidden, to).then(Boolean) : false,
    tableKind === 'v' && isTableKind(hiddenKind) ? viewReadsFrom(knex, schema, table, hidden) : false,
    tableKind === 'v' ? viewDefinition(knex, schema, table) : null,
  ]);
  await parser();
  const viewOverHidden = readsHidden && isColumnRenameView(definition, hidden, from, to);
  return { tableKind, hiddenKind, fromColumn, toColumn, hiddenHasTo, viewOverHidden, viewDefinition: definition };
}

/** What was found under the table's name, with a view's definition: for the errors of a state that is not the expected one. */
function found(state: RenameState): string {
  const definition = state.viewDefinition === null ? '' : ` (${state.viewDefinition.trim().replace(/\s+/g, ' ')})`;
  return `${describeKind(state.tableKind)}${definition}`;
}

/**
 * Renames a column without breaking the code still running (pre-deploy). In one statement
 * batch (one implicit transaction): the column is renamed, the table moves to a temporary name
 * (`<table>_zd_renaming`), and a view with the table's name shows every column plus the renamed
 * one under its old name as well. Old code (`from`) and new code (`to`) both read, insert,
 * update and delete through the view: a simple view is automatically updatable, and each of its
 * columns maps to the same table column.
 *
 * Why a view and not a second column kept in sync by a trigger: the view is metadata only
 * (no backfill of every row, no doubled storage, no window where the copies disagree), and the
 * column keeps its indexes, constraints, foreign keys and statistics. Limits until Part 2: one
 * column rename per table at a time, columns added meanwhile do not show through the view, and
 * a statement may not set both names at once.
 *
 * SQL:
 * `ALTER TABLE "s"."t" RENAME COLUMN "from" TO "to"; ALTER TABLE "s"."t" RENAME TO "t_zd_renaming";
 *  CREATE VIEW "s"."t" AS SELECT *, "to" AS "from" FROM "s"."t_zd_renaming"`
 *
 * Reverse: `revertSaferRenameColumnPart1(knex, table, from, to)`.
 * @example
 * export async function up(knex) { await saferRenameColumnPart1(knex, 'users', 'name', 'full_name'); }
 * export async function down(knex) { await revertSaferRenameColumnPart1(knex, 'users', 'name', 'full_name'); }
 */
export async function saferRenameColumnPart1(knex: Knex, table: string, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'saferRenameColumnPart1';
  const schema = await resolveSchema(knex, options.schema);
  const hidden = renamingTableName(table);
  const state = await renameState(knex, schema, table, from, to);
  let steps: OperationPlan['steps'];
  if (isTableKind(state.tableKind) && state.hiddenKind === null && state.fromColumn && !state.toColumn) {
    steps = [
      {
        sql:
          `ALTER TABLE ${quoteQualified(schema, table)} RENAME COLUMN ${quoteIdentifier(from)} TO ${quoteIdentifier(to)};\n` +
          `ALTER TABLE ${quoteQualified(schema, table)} RENAME TO ${quoteIdentifier(hidden)};\n` +
          viewSql(schema, table, from, to),
        transaction: 'inherit',
        description: 'rename the column and show it under both names through a view, atomically',
      },
    ];
  } else if (state.viewOverHidden && state.hiddenHasTo) {
    steps = [];
  } else {
    throw stateError(
      operation,
      `cannot rename ${quoteQualified(schema, table)}.${quoteIdentifier(from)} to ${quoteIdentifier(to)}: expected a table with column ${quoteIdentifier(from)} and no column ${quoteIdentifier(to)} (and no ${quoteQualified(schema, hidden)} from an unfinished rename); found ${found(state)}${state.hiddenKind ? ` and ${describeKind(state.hiddenKind)} ${quoteQualified(schema, hidden)}` : ''}. One column rename per table per deploy: finish the other with saferRenameColumnPart2 first.`,
    );
  }
  return runPlan(knex, {
    operation,
    stage: 'pre-deploy',
    steps,
    reverse: `await revertSaferRenameColumnPart1(knex, ${JSON.stringify(table)}, ${JSON.stringify(from)}, ${JSON.stringify(to)});`,
  });
}

/**
 * Finishes a column rename (post-deploy): drops the view and gives the table its name back,
 * in one statement batch, once no running code uses the old column name.
 *
 * SQL: `DROP VIEW "s"."t"; ALTER TABLE "s"."t_zd_renaming" RENAME TO "t"`
 *
 * Reverse: `revertSaferRenameColumnPart2(knex, table, from, to)`.
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await saferRenameColumnPart2(knex, 'users', 'name', 'full_name'); }
 */
export async function saferRenameColumnPart2(knex: Knex, table: string, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'saferRenameColumnPart2';
  const schema = await resolveSchema(knex, options.schema);
  const state = await renameState(knex, schema, table, from, to);
  let steps: OperationPlan['steps'];
  if (state.viewOverHidden && state.hiddenHasTo) {
    steps = [
      {
        sql: `DROP VIEW ${quoteQualified(schema, table)};\nALTER TABLE ${quoteQualified(schema, renamingTableName(table))} RENAME TO ${quoteIdentifier(table)}`,
        transaction: 'inherit',
        description: 'drop the compatibility view and give the table its name back, atomically',
      },
    ];
  } else if (isTableKind(state.tableKind) && state.toColumn && state.hiddenKind === null) {
    steps = [];
  } else {
    throw stateError(operation, `expected the view of saferRenameColumnPart1 over ${quoteQualified(schema, renamingTableName(table))}; found ${found(state)}. Run saferRenameColumnPart1 first.`);
  }
  return runPlan(knex, {
    operation,
    stage: 'post-deploy',
    steps,
    reverse: `await revertSaferRenameColumnPart2(knex, ${JSON.stringify(table)}, ${JSON.stringify(from)}, ${JSON.stringify(to)});`,
  });
}

/**
 * Undoes Part 1 (for `down`): drops the view, gives the table its name back and renames the column back.
 *
 * SQL: `DROP VIEW "s"."t"; ALTER TABLE "s"."t_zd_renaming" RENAME TO "t"; ALTER TABLE "s"."t" RENAME COLUMN "to" TO "from"`
 * @example
 * export async function down(knex) { await revertSaferRenameColumnPart1(knex, 'users', 'name', 'full_name'); }
 */
export async function revertSaferRenameColumnPart1(knex: Knex, table: string, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'revertSaferRenameColumnPart1';
  const schema = await resolveSchema(knex, options.schema);
  const state = await renameState(knex, schema, table, from, to);
  let steps: OperationPlan['steps'];
  if (state.viewOverHidden && state.hiddenHasTo) {
    steps = [
      {
        sql:
          `DROP VIEW ${quoteQualified(schema, table)};\n` +
          `ALTER TABLE ${quoteQualified(schema, renamingTableName(table))} RENAME TO ${quoteIdentifier(table)};\n` +
          `ALTER TABLE ${quoteQualified(schema, table)} RENAME COLUMN ${quoteIdentifier(to)} TO ${quoteIdentifier(from)}`,
        transaction: 'inherit',
      },
    ];
  } else if (isTableKind(state.tableKind) && state.fromColumn && !state.toColumn && state.hiddenKind === null) {
    steps = [];
  } else {
    throw stateError(operation, `expected the view of saferRenameColumnPart1; found ${found(state)}.`);
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: `await saferRenameColumnPart1(knex, ${JSON.stringify(table)}, ${JSON.stringify(from)}, ${JSON.stringify(to)});` });
}

/**
 * Undoes Part 2 (for `down`): moves the table aside again and recreates the view.
 *
 * SQL: `ALTER TABLE "s"."t" RENAME TO "t_zd_renaming"; CREATE VIEW "s"."t" AS SELECT *, "to" AS "from" FROM "s"."t_zd_renaming"`
 * @example
 * export async function down(knex) { await revertSaferRenameColumnPart2(knex, 'users', 'name', 'full_name'); }
 */
export async function revertSaferRenameColumnPart2(knex: Knex, table: string, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'revertSaferRenameColumnPart2';
  const schema = await resolveSchema(knex, options.schema);
  const state = await renameState(knex, schema, table, from, to);
  let steps: OperationPlan['steps'];
  if (isTableKind(state.tableKind) && state.toColumn && state.hiddenKind === null) {
    steps = [
      {
        sql: `ALTER TABLE ${quoteQualified(schema, table)} RENAME TO ${quoteIdentifier(renamingTableName(table))};\n${viewSql(schema, table, from, to)}`,
        transaction: 'inherit',
      },
    ];
  } else if (state.viewOverHidden && state.hiddenHasTo) {
    steps = [];
  } else {
    throw stateError(operation, `expected the table ${quoteQualified(schema, table)} with column ${quoteIdentifier(to)}; found ${found(state)}.`);
  }
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await saferRenameColumnPart2(knex, ${JSON.stringify(table)}, ${JSON.stringify(from)}, ${JSON.stringify(to)});` });
}
