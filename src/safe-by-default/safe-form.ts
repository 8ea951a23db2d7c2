/**
 * The safe form of a statement (`safeByDefault`), built on its parse tree: the statement's own
 * tree, changed where the safe form differs (`concurrent`, `NOT VALID`, an explicit name, the
 * table's schema), rendered by the deparser and proved by parsing the rendering again; the steps
 * around it come from the safe operations' own plan builders (`concurrentIndexSteps`,
 * `validateStep`, `setNotNullSteps`), with their resumption and ownership rules: a run that was
 * interrupted half-way finds the INVALID index or the NOT VALID constraint it left under the same
 * name and finishes, and an object of that name that is not the one the statement makes is never
 * dropped or reused.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { parseSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { loadParser, type PgNode } from '../analysis/parser.js';
import { columnRefs, stringList } from '../analysis/classify/names.js';
import { MigrationError } from '../errors.js';
import { quoteIdentifier, quoteQualified } from '../identifiers.js';
import { constraintInfo, indexInfo, relationKind, tableSchema } from '../operations/catalog.js';
import { validateStep } from '../operations/constraints.js';
import { concurrentIndexSteps } from '../operations/indexes.js';
import { setNotNullSteps } from '../operations/not-null.js';
import { checkExpression, notOursError, sameExpression, sameForeignKeyConstraint, sameKey } from '../operations/ownership.js';
import type { OperationPlan, PlanStep } from '../operations/plan.js';
import { runPlan } from '../operations/run.js';
import { parser, withoutLocations } from '../operations/sql.js';
import type { Stage } from '../stages.js';
import { candidateOf } from './candidate.js';
import type { SafeFormDirective, SafeFormKind } from './directive.js';
import { defaultCheckName, defaultForeignKeyName, defaultIndexName, defaultKeyName } from './names.js';

/** The operation whose plan each safe form follows, as `migrate:plan` names it. */
export const SAFE_FORM_OPERATION: Readonly<Record<SafeFormKind, string>> = Object.freeze({
  index: 'addIndexConcurrently',
  'foreign-key': 'addForeignKey',
  check: 'addCheckConstraint',
  'not-null': 'setNotNull',
  unique: 'addUniqueConstraint',
  'primary-key': 'addPrimaryKey',
});

function flat(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

function refusal(directive: SafeFormDirective, why: string): MigrationError {
  return new MigrationError(`safeByDefault cannot run\n  ${flat(directive.sql)}\nin its safe form: ${why}`, {
    details: { statement: directive.sql, kind: directive.kind },
  });
}

/** Proves that `sql` is `node`: parsed, it must be that very tree (byte offsets aside), or nothing runs. */
function prove(sql: string, node: PgNode, how: string): string {
  let back: PgNode[] = [];
  try {
    back = ((parseSync(sql) as { stmts?: { stmt?: PgNode }[] }).stmts ?? []).map((s) => s.stmt ?? {});
  } catch {
    back = [];
  }
  if (back.length !== 1 || !isDeepStrictEqual(withoutLocations(back[0]), withoutLocations(node))) {
    throw new MigrationError(`safeByDefault: ${how} does not parse back to it; refusing to run it:\n  ${sql}`, {
      details: { statement: sql },
    });
  }
  return sql;
}

/**
 * Renders a statement tree with the deparser and proves the rendering: parsed again, it must be
 * the same tree (byte offsets aside), or nothing runs.
 */
export function renderStatement(node: PgNode): string {
  return prove(deparseSync(node, { pretty: false }), node, "the deparser's rendering of a safe form");
}

function stageOf(directive: SafeFormDirective, fallback: Stage): Stage {
  return directive.stage === 'pre-deploy' || directive.stage === 'post-deploy' ? directive.stage : fallback;
}

/** The names of plain column elements of an index, or `null` when one is an expression. */
function plainColumns(elements: unknown): string[] | null {
  const out: string[] = [];
  for (const element of (elements ?? []) as PgNode[]) {
    const name = element.IndexElem?.name;
    if (typeof name !== 'string') return null;
    out.push(name);
  }
  return out;
}

async function indexForm(knex: Knex, directive: SafeFormDirective, node: PgNode): Promise<{ stage: Stage; steps: PlanStep[] }> {
  const index = node.IndexStmt as PgNode;
  const table = String(index.relation.relname);
  const schema = await tableSchema(knex, index.relation.schemaname ?? null, table);
  if ((await relationKind(knex, schema, table)) === 'p') {
    throw refusal(
      directive,
      `${quoteQualified(schema, table)} is a partitioned table, on which PostgreSQL cannot build an index concurrently. Build it on each partition with addIndexConcurrently, then CREATE INDEX ON ONLY the parent and ATTACH each partition's index; or opt this migration out with export const config = { safeByDefault: false }.`,
    );
  }
  let name: string;
  if (typeof index.idxname === 'string') {
    name = index.idxname;
  } else {
    const columns = plainColumns([...((index.indexParams ?? []) as PgNode[]), ...((index.indexIncludingParams ?? []) as PgNode[])]);
    if (columns === null || new Set(columns).size !== columns.length) {
      throw refusal(directive, 'the index has no name, and an expression among its columns makes the name PostgreSQL would choose unsure. Name the index (CREATE INDEX "name" ON …), so that an interrupted build is found again by its name.');
    }
    name = defaultIndexName(table, columns);
  }
  const tree: PgNode = { ...index, idxname: name, concurrent: true, relation: { ...index.relation, schemaname: schema } };
  delete tree.if_not_exists;
  const createSql = renderStatement({ IndexStmt: tree });
  const stage = stageOf(directive, index.unique ? 'post-deploy' : 'pre-deploy');
  // IF NOT EXISTS keeps its meaning: a valid index of that name is left as it is.
  if (index.if_not_exists && (await indexInfo(knex, schema, name))?.valid) return { stage, steps: [] };
  return { stage, steps: await concurrentIndexSteps(knex, SAFE_FORM_OPERATION.index, schema, table, name, createSql) };
}

interface AlterParts {
  readonly alter: PgNode;
  readonly command: PgNode;
  readonly table: string;
  readonly schema: string;
}

async function alterParts(knex: Knex, node: PgNode): Promise<AlterParts> {
  const alter = node.AlterTableStmt as PgNode;
  const command = (alter.cmds as PgNode[])[0].AlterTableCmd as PgNode;
  const table = String(alter.relation.relname);
  return { alter, command, table, schema: await tableSchema(knex, alter.relation.schemaname ?? null, table) };
}

/** The `ALTER TABLE` with its one subcommand's constraint replaced, on the table's schema. */
function withConstraint(parts: AlterParts, constraint: PgNode): PgNode {
  const { alter, command, schema } = parts;
  return {
    AlterTableStmt: {
      ...alter,
      relation: { ...alter.relation, schemaname: schema },
      cmds: [{ AlterTableCmd: { ...command, def: { Constraint: constraint } } }],
    },
  };
}

async function notValidForm(knex: Knex, directive: SafeFormDirective, node: PgNode): Promise<{ stage: Stage; steps: PlanStep[] }> {
  const parts = await alterParts(knex, node);
  const { table, schema } = parts;
  const constraint = parts.command.def.Constraint as PgNode;
  const foreign = constraint.contype === 'CONSTR_FOREIGN';
  const operation = SAFE_FORM_OPERATION[directive.kind];
  const name =
    typeof constraint.conname === 'string'
      ? constraint.conname
      : foreign
        ? defaultForeignKeyName(table, stringList(constraint.fk_attrs))
        : defaultCheckName(table, columnRefs(constraint.raw_expr));
  const notValid: PgNode = { ...constraint, conname: name, skip_validation: true };
  delete notValid.initially_valid;
  const addSql = renderStatement(withConstraint(parts, notValid));
  const stage = stageOf(directive, 'post-deploy');
  const existing = await constraintInfo(knex, schema, table, name);
  if (!existing) {
    return {
      stage,
      steps: [
        { sql: addSql, transaction: 'inherit', description: foreign ? 'check new writes only (brief lock on both tables)' : 'check new writes only (brief lock)' },
        validateStep(schema, table, name),
      ],
    };
  }
  // Resumed only when it is this very constraint, left NOT VALID by an interrupted run.
  const pktable = constraint.pktable as PgNode | undefined;
  const ours = foreign
    ? existing.type === 'f' &&
      sameForeignKeyConstraint(existing.definition, constraint) &&
      existing.references?.table === pktable?.relname &&
      (typeof pktable?.schemaname !== 'string' || existing.references?.schema === pktable.schemaname)
    : existing.type === 'c' && sameExpression(checkExpression(existing.definition), constraint.raw_expr);
  if (!ours) {
    throw notOursError({
      operation,
      what: 'a constraint',
      schema,
      name,
      table,
      definition: existing.definition,
      expected: addSql,
      option: 'Give the constraint in the migration another name, or drop or rename that constraint yourself if it is no longer wanted.',
    });
  }
  return { stage, steps: existing.validated ? [] : [validateStep(schema, table, name)] };
}

async function notNullForm(knex: Knex, directive: SafeFormDirective, node: PgNode): Promise<{ stage: Stage; steps: PlanStep[] }> {
  const parts = await alterParts(knex, node);
  const column = String(parts.command.name);
  return { stage: stageOf(directive, 'post-deploy'), steps: await setNotNullSteps(knex, SAFE_FORM_OPERATION['not-null'], parts.schema, parts.table, column) };
}

function indexElements(columns: readonly string[]): PgNode[] {
  return columns.map((name) => ({ IndexElem: { name, ordering: 'SORTBY_DEFAULT', nulls_ordering: 'SORTBY_NULLS_DEFAULT' } }));
}

async function keyForm(knex: Knex, directive: SafeFormDirective, node: PgNode): Promise<{ stage: Stage; steps: PlanStep[] }> {
  const parts = await alterParts(knex, node);
  const { alter, table, schema } = parts;
  const constraint = parts.command.def.Constraint as PgNode;
  const primary = constraint.contype === 'CONSTR_PRIMARY';
  const operation = SAFE_FORM_OPERATION[directive.kind];
  const keys = stringList(constraint.keys);
  const including = stringList(constraint.including);
  const name = typeof constraint.conname === 'string' ? constraint.conname : defaultKeyName(table, [...keys, ...including], primary);
  const stage = stageOf(directive, 'post-deploy');
  const existing = await constraintInfo(knex, schema, table, name);
  if (existing) {
    if (!sameKey(existing.definition, constraint)) {
      throw notOursError({
        operation,
        what: 'a constraint',
        schema,
        name,
        table,
        definition: existing.definition,
        expected: directive.sql,
        option: 'Give the constraint in the migration another name, or drop or rename that constraint yourself if it is no longer wanted.',
      });
    }
    return { stage, steps: [] };
  }
  const relation = { ...alter.relation, schemaname: schema };
  const index: PgNode = {
    idxname: name,
    relation,
    accessMethod: 'btree',
    indexParams: indexElements(keys),
    ...(including.length > 0 ? { indexIncludingParams: indexElements(including) } : {}),
    ...(constraint.options ? { options: constraint.options } : {}),
    ...(typeof constraint.indexspace === 'string' ? { tableSpace: constraint.indexspace } : {}),
    unique: true,
    ...(constraint.nulls_not_distinct ? { nulls_not_distinct: true } : {}),
    concurrent: true,
  };
  const createSql = renderStatement({ IndexStmt: index });
  const attached: PgNode = {
    contype: constraint.contype,
    conname: name,
    indexname: name,
    ...(constraint.deferrable ? { deferrable: true } : {}),
    ...(constraint.initdeferred ? { initdeferred: true } : {}),
  };
  // Written out (identifiers only, all quoted), as addUniqueConstraint writes it: the deparser
  // leaves the name after USING INDEX unquoted. Proved against the tree all the same.
  const timing = `${constraint.deferrable ? ' DEFERRABLE' : ''}${constraint.initdeferred ? ' INITIALLY DEFERRED' : ''}`;
  const attachSql = `ALTER TABLE ${quoteQualified(schema, table)} ADD CONSTRAINT ${quoteIdentifier(name)} ${primary ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${quoteIdentifier(name)}${timing}`;
  const attach: PlanStep = {
    sql: prove(attachSql, withConstraint(parts, attached), 'the attach statement'),
    transaction: 'inherit',
    description: 'attach the index as the constraint (catalog only)',
  };
  // A primary key makes its columns NOT NULL: through a validated CHECK first, or the attach would scan the table under its lock.
  const notNull: PlanStep[] = [];
  if (primary) for (const column of keys) notNull.push(...(await setNotNullSteps(knex, operation, schema, table, column)));
  return { stage, steps: [...notNull, ...(await concurrentIndexSteps(knex, operation, schema, table, name, createSql)), attach] };
}

/**
 * The plan of a statement's safe form, from what the catalog shows now (the parsers are loaded
 * here). Throws a `MigrationError` when the statement has no safe form after all (a partitioned
 * table, an unnamed index on expressions) or when an object of the name it uses is not its own.
 */
export async function safeFormPlan(knex: Knex, directive: SafeFormDirective): Promise<OperationPlan> {
  await loadParser();
  await parser();
  const candidate = candidateOf(directive.sql);
  if (candidate === null || candidate.kind !== directive.kind) throw refusal(directive, `it is not a ${directive.kind} statement with a safe form.`);
  const build = {
    index: indexForm,
    'foreign-key': notValidForm,
    check: notValidForm,
    'not-null': notNullForm,
    unique: keyForm,
    'primary-key': keyForm,
  }[candidate.kind];
  const { stage, steps } = await build(knex, directive, candidate.node);
  return { operation: SAFE_FORM_OPERATION[candidate.kind], stage, steps, safeForm: directive };
}

/** Builds the safe form's plan and records it (analysis) or runs it through the runner. */
export async function runSafeForm(knex: Knex, directive: SafeFormDirective): Promise<OperationPlan> {
  return runPlan(knex, await safeFormPlan(knex, directive));
}
