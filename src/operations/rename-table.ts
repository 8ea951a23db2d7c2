import type { Knex } from 'knex';
import { MigrationError } from '../errors.js';
import { quoteIdentifier, quoteQualified } from '../identifiers.js';
import { isTableKind, relationKind, resolveSchema, viewDefinition, viewReadsFrom, type SchemaOption } from './catalog.js';
import { passThroughView } from './ownership.js';
import { activeCaptureRecorder, type OperationPlan } from './plan.js';
import { runPlan } from './run.js';
import { parser } from './sql.js';

function stateError(operation: string, message: string): MigrationError {
  return new MigrationError(`${operation}: ${message}`, { details: { operation } });
}

/**
 * Is the view `view` the one Part 1 creates, `SELECT * FROM table` (every column passed through
 * under its own name)? Only that view is ever dropped or taken as done. @internal
 */
export async function isRenameView(knex: Knex, schema: string, view: string, table: string): Promise<{ ours: boolean; definition: string | null }> {
  const definition = await viewDefinition(knex, schema, view);
  if (definition === null) return { ours: false, definition };
  await parser();
  const shape = passThroughView(definition);
  const ours =
    shape !== null &&
    shape.from === table &&
    shape.columns.length > 0 &&
    shape.columns.every(([name, source]) => name === source) &&
    (await viewReadsFrom(knex, schema, view, table));
  return { ours, definition };
}

function notTheRenameView(operation: string, schema: string, view: string, table: string, definition: string | null): MigrationError {
  return new MigrationError(
    `${operation}: the view ${quoteQualified(schema, view)} is not the view of saferRenameTablePart1 (SELECT * FROM ${quoteQualified(schema, table)}):\n  found: ${definition?.trim().replace(/\s+/g, ' ') ?? '(no definition)'}\nknex-zd never drops or reuses an object it did not create; drop or rename that view yourself if it is no longer wanted.`,
    { details: { operation, view, definition } },
  );
}

/**
 * Renames a table without breaking the code still running (pre-deploy): in one statement
 * batch (one implicit transaction), the table is renamed and a view with the old name is
 * created over it, so old code keeps reading and writing through the view (simple views are
 * automatically updatable). Columns added to the table later do not appear through the view
 * (`SELECT *` is expanded at creation), so finish with Part 2 in the post-deploy step.
 *
 * SQL: `ALTER TABLE "s"."from" RENAME TO "to"; CREATE VIEW "s"."from" AS SELECT * FROM "s"."to"`
 *
 * Reverse: `revertSaferRenameTablePart1(knex, from, to)`.
 * @example
 * export async function up(knex) { await saferRenameTablePart1(knex, 'orders', 'purchases'); }
 * export async function down(knex) { await revertSaferRenameTablePart1(knex, 'orders', 'purchases'); }
 */
export async function saferRenameTablePart1(knex: Knex, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'saferRenameTablePart1';
  const schema = await resolveSchema(knex, options.schema);
  const oldName = quoteQualified(schema, from);
  const newName = quoteQualified(schema, to);
  const [fromKind, toKind] = await Promise.all([relationKind(knex, schema, from), relationKind(knex, schema, to)]);
  const createView = `CREATE VIEW ${oldName} AS SELECT * FROM ${newName}`;
  let steps: OperationPlan['steps'];
  if (isTableKind(fromKind) && toKind === null) {
    steps = [
      {
        sql: `ALTER TABLE ${oldName} RENAME TO ${quoteIdentifier(to)};\n${createView}`,
        transaction: 'inherit',
        description: 'rename the table and put a view with the old name in its place, atomically',
      },
    ];
  } else if (fromKind === null && isTableKind(toKind)) {
    steps = [{ sql: createView, transaction: 'inherit', description: 'the table is renamed already; create the view with the old name' }];
  } else if (fromKind === 'v' && isTableKind(toKind)) {
    const view = await isRenameView(knex, schema, from, to);
    if (!view.ours) throw notTheRenameView(operation, schema, from, to, view.definition);
    steps = [];
  } else {
    throw stateError(
      operation,
      `cannot rename ${oldName} to ${newName}: expected a table ${oldName} and nothing named ${newName} (or a finished Part 1), found ${describeKind(fromKind)} and ${describeKind(toKind)}.`,
    );
  }
  return runPlan(knex, {
    operation,
    stage: 'pre-deploy',
    steps,
    reverse: `await revertSaferRenameTablePart1(knex, ${JSON.stringify(from)}, ${JSON.stringify(to)});`,
  });
}

/**
 * Finishes a table rename (post-deploy): drops the view that Part 1 left under the old name,
 * once no running code uses that name.
 *
 * SQL: `DROP VIEW "s"."from"`
 *
 * Reverse: `revertSaferRenameTablePart2(knex, from, to)` (recreates the view).
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await saferRenameTablePart2(knex, 'orders', 'purchases'); }
 */
export async function saferRenameTablePart2(knex: Knex, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'saferRenameTablePart2';
  const schema = await resolveSchema(knex, options.schema);
  const oldName = quoteQualified(schema, from);
  const [fromKind, toKind] = await Promise.all([relationKind(knex, schema, from), relationKind(knex, schema, to)]);
  let steps: OperationPlan['steps'] = [];
  if (!isTableKind(toKind) && activeCaptureRecorder() && fromKind !== 'v') {
    // Analysed before an earlier pending migration (Part 1) ran: plan what it will do then.
    return runPlan(knex, { operation, stage: 'post-deploy', steps: [{ sql: `DROP VIEW ${oldName}`, transaction: 'inherit' }] });
  }
  if (!isTableKind(toKind)) {
    throw stateError(operation, `the table ${quoteQualified(schema, to)} does not exist: run saferRenameTablePart1(knex, ${JSON.stringify(from)}, ${JSON.stringify(to)}) first.`);
  }
  if (fromKind === 'v') {
    const view = await isRenameView(knex, schema, from, to);
    if (!view.ours) throw notTheRenameView(operation, schema, from, to, view.definition);
    steps = [{ sql: `DROP VIEW ${oldName}`, transaction: 'inherit', description: 'drop the compatibility view' }];
  } else if (fromKind !== null) {
    throw stateError(operation, `${oldName} is ${describeKind(fromKind)}, not the view that Part 1 creates.`);
  }
  return runPlan(knex, {
    operation,
    stage: 'post-deploy',
    steps,
    reverse: `await revertSaferRenameTablePart2(knex, ${JSON.stringify(from)}, ${JSON.stringify(to)});`,
  });
}

/**
 * Undoes Part 1 (for `down`): drops the view and renames the table back.
 *
 * SQL: `DROP VIEW "s"."from"; ALTER TABLE "s"."to" RENAME TO "from"`
 * @example
 * export async function down(knex) { await revertSaferRenameTablePart1(knex, 'orders', 'purchases'); }
 */
export async function revertSaferRenameTablePart1(knex: Knex, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'revertSaferRenameTablePart1';
  const schema = await resolveSchema(knex, options.schema);
  const [fromKind, toKind] = await Promise.all([relationKind(knex, schema, from), relationKind(knex, schema, to)]);
  const rename = `ALTER TABLE ${quoteQualified(schema, to)} RENAME TO ${quoteIdentifier(from)}`;
  let steps: OperationPlan['steps'];
  if (fromKind === 'v' && isTableKind(toKind)) {
    const view = await isRenameView(knex, schema, from, to);
    if (!view.ours) throw notTheRenameView(operation, schema, from, to, view.definition);
    steps = [{ sql: `DROP VIEW ${quoteQualified(schema, from)};\n${rename}`, transaction: 'inherit', description: 'drop the view and rename the table back, atomically' }];
  } else if (fromKind === null && isTableKind(toKind)) {
    steps = [{ sql: rename, transaction: 'inherit' }];
  } else if (isTableKind(fromKind) && toKind === null) {
    steps = [];
  } else {
    throw stateError(operation, `expected the view ${quoteQualified(schema, from)} over the table ${quoteQualified(schema, to)}; found ${describeKind(fromKind)} and ${describeKind(toKind)}.`);
  }
  return runPlan(knex, { operation, stage: 'post-deploy', steps, reverse: `await saferRenameTablePart1(knex, ${JSON.stringify(from)}, ${JSON.stringify(to)});` });
}

/**
 * Undoes Part 2 (for `down`): recreates the view with the old name.
 *
 * SQL: `CREATE VIEW "s"."from" AS SELECT * FROM "s"."to"`
 * @example
 * export async function down(knex) { await revertSaferRenameTablePart2(knex, 'orders', 'purchases'); }
 */
export async function revertSaferRenameTablePart2(knex: Knex, from: string, to: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'revertSaferRenameTablePart2';
  const schema = await resolveSchema(knex, options.schema);
  const [fromKind, toKind] = await Promise.all([relationKind(knex, schema, from), relationKind(knex, schema, to)]);
  if (!isTableKind(toKind)) throw stateError(operation, `the table ${quoteQualified(schema, to)} does not exist.`);
  let steps: OperationPlan['steps'] = [];
  if (fromKind === null) {
    steps = [{ sql: `CREATE VIEW ${quoteQualified(schema, from)} AS SELECT * FROM ${quoteQualified(schema, to)}`, transaction: 'inherit' }];
  } else if (fromKind !== 'v') {
    throw stateError(operation, `${quoteQualified(schema, from)} is ${describeKind(fromKind)}.`);
  } else {
    const view = await isRenameView(knex, schema, from, to);
    if (!view.ours) throw notTheRenameView(operation, schema, from, to, view.definition);
  }
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await saferRenameTablePart2(knex, ${JSON.stringify(from)}, ${JSON.stringify(to)});` });
}

/** A relation kind in words, for messages. */
export function describeKind(kind: string | null): string {
  switch (kind) {
    case null:
      return 'nothing';
    case 'r':
      return 'a table';
    case 'p':
      return 'a partitioned table';
    case 'v':
      return 'a view';
    case 'm':
      return 'a materialized view';
    case 'i':
      return 'an index';
    case 'S':
      return 'a sequence';
    default:
      return `a relation of kind '${kind}'`;
  }
}
