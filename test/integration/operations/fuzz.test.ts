/**
 * Every operation and its revert, with identifiers and values made of what knex, the parser
 * and PostgreSQL treat specially: quotes, `?`, `\?`, `\\?`, `$1`, `--`, `/*`, `;`, spaces,
 * uppercase, unicode, and names of exactly 63 bytes (multi-byte ones too). For each call:
 * - the plan that analysis records is the plan that runs, and each of its statements is what
 *   node-postgres sends to the server, byte for byte (the driver's `query` is watched);
 * - nothing else is touched: decoy tables with neighbouring names (`keep?me` next to
 *   `keep\?me`…) and decoy columns are byte-identical afterwards;
 * - every value reads back as given;
 * - nothing fails that planning did not refuse first.
 * Seeded and deterministic. ZD_FUZZ_ROUNDS (default 3) and ZD_FUZZ_SEED make longer runs.
 */
import test from 'ava';
import type { Knex } from 'knex';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  addCheckConstraint,
  addColumnWithDefault,
  addForeignKey,
  addIndexConcurrently,
  addNullableColumn,
  addUniqueConstraint,
  backfill,
  dropColumn,
  dropIndexConcurrently,
  dropNotNull,
  dropTable,
  prepareDropColumn,
  revertSaferRenameColumnPart1,
  revertSaferRenameColumnPart2,
  revertSaferRenameTablePart1,
  revertSaferRenameTablePart2,
  saferRenameColumnPart1,
  saferRenameColumnPart2,
  saferRenameTablePart1,
  saferRenameTablePart2,
  setNotNull,
} from '../../../src/operations/index.js';
import type { OperationPlan } from '../../../src/operations/plan.js';
import { analyzeSql } from '../../../src/analysis/classify/index.js';
import { capturePlans } from './support.js';

const ROUNDS = Number(process.env.ZD_FUZZ_ROUNDS ?? 3);
const SEED = Number(process.env.ZD_FUZZ_SEED ?? 20261001);

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['"', "'", '?', '\\?', '\\\\?', '??', '$1', '--', '/*', '*/', ';', ' ', 'Upper', 'é', '日本', '🙂', ':x', '\\'];

interface Fuzz {
  pick<T>(items: readonly T[]): T;
  int(max: number): number;
  /** A name with special pieces, unique within the round; sometimes exactly 63 bytes. */
  name(stem: string): string;
  /** A string value with special pieces. */
  value(): string;
}

function fuzzer(seed: number): Fuzz {
  const random = prng(seed);
  const used = new Set<string>();
  const fuzz: Fuzz = {
    pick: (items) => items[Math.floor(random() * items.length)],
    int: (max) => Math.floor(random() * max),
    name(stem) {
      for (;;) {
        let out = stem;
        for (let i = 0; i < 1 + fuzz.int(3); i++) out += fuzz.pick(PIECES);
        if (random() < 0.3) {
          // Exactly 63 bytes, padded with a multi-byte or a one-byte character.
          const pad = fuzz.pick(['é', '日', 'x']);
          while (Buffer.byteLength(out + pad) <= 63) out += pad;
          while (Buffer.byteLength(out) < 63) out += 'x';
        }
        if (Buffer.byteLength(out) > 63 || used.has(out.toLowerCase())) continue;
        used.add(out.toLowerCase());
        return out;
      }
    },
    value() {
      let out = fuzz.pick(['https://example.com/?utm=1', '^/search\\?q=', 'O\'Brien', 'x']);
      for (let i = 0; i < 1 + fuzz.int(4); i++) out += fuzz.pick(PIECES);
      return out;
    },
  };
  return fuzz;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const lit = (value: string) => `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** Names next to `name` that a rewriting layer could confuse it with. */
function neighbours(name: string): string[] {
  const candidates = [
    name.replace(/\\\?/g, '?'),
    name.replace(/\?/g, '\\?'),
    name.replace(/\\\\/g, '\\'),
    name.replace(/\?/g, '$1'),
    name.replace(/\$1/g, '?'),
    name.replace(/"/g, ''),
    name.replace(/'/g, ''),
    `${name.slice(0, -1)}`,
    name.toLowerCase(),
    name.toUpperCase(),
  ];
  return [...new Set(candidates)].filter((n) => n !== name && n.length > 0 && Buffer.byteLength(n) <= 63);
}

/** Everything about a table, for byte-for-byte comparison: columns, constraints, indexes, rows. */
async function tableSnapshot(client: pg.Client, schema: string, table: string): Promise<unknown> {
  const oid = `${q(schema)}.${q(table)}`;
  const { rows } = await client.query(
    `SELECT
       (SELECT json_agg(json_build_array(attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(d.adbin, d.adrelid)) ORDER BY attnum)
          FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(json_build_array(conname, pg_get_constraintdef(oid), convalidated) ORDER BY conname) FROM pg_constraint WHERE conrelid = $1::regclass) AS constraints,
       (SELECT json_agg(json_build_array(indexrelid::regclass::text, pg_get_indexdef(indexrelid), indisvalid) ORDER BY 1) FROM pg_index WHERE indrelid = $1::regclass) AS indexes`,
    [oid],
  );
  const data = await client.query(`SELECT coalesce(json_agg(t ORDER BY t::text), '[]') AS rows FROM ${oid} AS t`);
  return { ...rows[0], rows: data.rows[0].rows };
}

async function snapshots(client: pg.Client, schema: string, tables: readonly string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const table of tables) out.push(await tableSnapshot(client, schema, table));
  return out;
}

interface Round {
  readonly schema: string;
  readonly table: string;
  readonly ref: string;
  readonly doomed: string;
  readonly key: string;
  readonly refKey: string;
  readonly c1: string;
  readonly c2: string;
  readonly c3: string;
  readonly fk: string;
  /** Decoy columns in the table, with names next to c1 and c3. */
  readonly decoyColumns: readonly string[];
  /** Decoy tables, with names next to the tables'. */
  readonly decoyTables: readonly string[];
}

const ROWS = 6;

async function setUp(client: pg.Client, fuzz: Fuzz): Promise<Round> {
  const schema = fuzz.int(2) === 0 ? 'public' : fuzz.name('S');
  const table = fuzz.name('keep');
  const ref = fuzz.name('ref');
  const doomed = fuzz.name('drop');
  const [key, refKey, c1, c2, c3, fk] = ['id', 'rid', 'c1', 'c2', 'c3', 'fk'].map((stem) => fuzz.name(stem));
  const decoyColumns = [...new Set([...neighbours(c1), ...neighbours(c3)])].filter((n) => ![key, c1, c2, c3, fk].includes(n));
  const decoyTables = [...new Set([...neighbours(table), ...neighbours(ref), ...neighbours(doomed)])].filter((n) => ![table, ref, doomed].includes(n));
  const s = q(schema);
  const columns = (extra: readonly string[]) =>
    [`${q(key)} int PRIMARY KEY`, `${q(c1)} text`, `${q(c2)} int`, `${q(c3)} text`, `${q(fk)} int`, ...extra.map((c) => `${q(c)} text`)].join(', ');
  const statements = [
    schema === 'public' ? '' : `CREATE SCHEMA ${s}`,
    `CREATE TABLE ${s}.${q(ref)} (${q(refKey)} int PRIMARY KEY)`,
    `INSERT INTO ${s}.${q(ref)} SELECT g FROM generate_series(1, ${ROWS}) g`,
    `CREATE TABLE ${s}.${q(table)} (${columns(decoyColumns)})`,
    `CREATE TABLE ${s}.${q(doomed)} (${columns([])})`,
    ...decoyTables.map((d) => `CREATE TABLE ${s}.${q(d)} (${columns(decoyColumns)})`),
  ];
  for (const target of [table, doomed, ...decoyTables]) {
    const decoys = target === doomed ? [] : decoyColumns;
    for (let i = 1; i <= ROWS; i++) {
      const values = [String(i), lit(fuzz.value()), i % 2 ? 'NULL' : String(i), lit(fuzz.value()), String(i), ...decoys.map(() => lit(fuzz.value()))];
      statements.push(`INSERT INTO ${s}.${q(target)} VALUES (${values.join(', ')})`);
    }
  }
  for (const statement of statements.filter(Boolean)) await client.query(statement);
  return { schema, table, ref, doomed, key, refKey, c1, c2, c3, fk, decoyColumns, decoyTables };
}

/** A statement that is not the runner's own (timeouts, transaction control) nor a catalog read. */
const isAction = (text: string) => !/^(select|begin|commit|rollback|savepoint|release)\b/i.test(text.trimStart());

test.serial(`${ROUNDS} seeded rounds of every operation and its revert: the plan is what the server receives, nothing else is touched, every value reads back`, async (t) => {
  const sent: string[] = [];
  let recording = false;
  const prototype = pg.Client.prototype as unknown as { query: (this: pg.Client, ...args: unknown[]) => unknown };
  const original = prototype.query;
  // The driver's own query method: what it is given is what it writes to the socket.
  prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    if (recording) sent.push(typeof config === 'string' ? config : (config as { text: string }).text);
    return original.call(this, config, ...rest);
  };
  const totals = { operations: 0, statements: 0, unpredictedFailures: 0 };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const fuzz = fuzzer(SEED + round);
      const db: TestDatabase = await createTestDatabase('zdfuzz');
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const r = await setUp(client, fuzz);
        const k: Knex = db.knex;
        const schema = { schema: r.schema };
        const decoysBefore = await snapshots(client, r.schema, r.decoyTables);
        const columnsOf = async (columns: readonly string[]) =>
          (await client.query(`SELECT ${columns.map(q).join(', ')} FROM ${q(r.schema)}.${q(r.table)} ORDER BY ${q(r.key)}`)).rows;
        const decoyColumnsBefore = r.decoyColumns.length > 0 ? await columnsOf(r.decoyColumns) : [];
        const original3 = await columnsOf([r.c3]);

        /** Plans `run` (nothing executed), runs it, and compares the plan, the executed plan and the driver's statements. */
        const check = async (label: string, run: (knex: Knex) => Promise<OperationPlan>, options: { inTransaction?: boolean } = {}) => {
          const context = `round ${round} (seed ${SEED + round}): ${label}`;
          const [planned] = await capturePlans(() => run(k));
          t.truthy(planned, `${context}: planned`);
          for (const step of planned.steps) {
            const analyses = await analyzeSql(step.sql);
            t.false(analyses.some((a) => a.findings.some((f) => f.code === 'parse-error')), `${context}: the classifier parses ${step.sql}`);
          }
          sent.length = 0;
          recording = true;
          let ran: OperationPlan;
          try {
            ran = options.inTransaction ? await k.transaction((trx) => run(trx)) : await run(k);
          } catch (error) {
            totals.unpredictedFailures++;
            t.fail(`${context}: planned, then failed: ${(error as Error).message}`);
            return;
          } finally {
            recording = false;
          }
          totals.operations++;
          const plannedSql = planned.steps.map((s) => s.sql);
          t.deepEqual(ran.steps.map((s) => s.sql), plannedSql, `${context}: the plan shown is the plan run`);
          const actions = sent.filter(isAction);
          totals.statements += actions.length;
          if (ran.operation === 'backfill') {
            t.is(actions[0], plannedSql[0], `${context}: first batch`);
            t.true(actions.slice(1).every((text) => text === plannedSql[1]), `${context}: next batches`);
          } else {
            t.deepEqual(actions, plannedSql, `${context}: the server receives the planned statements, byte for byte`);
          }
        };

        const value = fuzz.value();
        const fillValue = fuzz.value();
        const whereValue = fuzz.value();
        const [added, withDefault, renamedColumn, renamedTable, checkName, indexName] = ['add', 'def', 'ren', 'tbl', 'chk', 'idx'].map((stem) => fuzz.name(stem));
        const s = q(r.schema);

        const type = fuzz.pick(['text', 'varchar(32)', 'jsonb', 'timestamp with time zone', 'numeric(10, 2)', 'text[]']);
        await check('addNullableColumn', (knex) => addNullableColumn(knex, r.table, added, type, schema), { inTransaction: fuzz.int(2) === 0 });
        await check('addColumnWithDefault', (knex) => addColumnWithDefault(knex, r.table, withDefault, 'text', value, { ...schema, notNull: true }), { inTransaction: fuzz.int(2) === 0 });
        t.deepEqual((await columnsOf([withDefault])).map((row) => row[withDefault]), Array(ROWS).fill(value), 'the default reads back as given');
        // A jsonb column with a knex.raw default, filled where the JSONB ? operator says so.
        const json = fuzz.name('j');
        const key = fuzz.value();
        await check('addColumnWithDefault (knex.raw)', (knex) => addColumnWithDefault(knex, r.table, json, 'jsonb', knex.raw('jsonb_build_object(?::text, 1)', [key]), schema));
        await check('backfill (jsonb ?)', (knex) => backfill(knex, r.table, { [json]: knex.raw(`jsonb_build_object('\\?', ?::text)`, [value]) }, { ...schema, where: `${q(json)} ? ${lit(key)} AND ${q(r.c2)} IS NOT NULL` }));
        t.deepEqual(
          (await columnsOf([r.c2, json])).map((row) => row[json]),
          (await columnsOf([r.c2])).map((row) => (row[r.c2] === null ? { [key]: 1 } : { '?': value })),
          'jsonb values read back as given, only where the ? operator matched',
        );
        await check('dropColumn (jsonb)', (knex) => dropColumn(knex, r.table, json, schema));

        // A where with the JSONB-style ? operator's neighbours: a literal with ?, \? and the column names.
        const where = `${q(r.c2)} IS NULL OR ${q(r.c1)} = ${lit(whereValue)}`;
        await check('backfill', (knex) => backfill(knex, r.table, { [r.c1]: fillValue, [r.c3]: knex.raw('?', [value]) }, { ...schema, where, batchSize: 2 }));
        const filled = await columnsOf([r.c1, r.c2, r.c3]);
        t.deepEqual(
          filled.map((row) => [row[r.c1], row[r.c3]]),
          filled.map((row, i) => (row[r.c2] === null ? [fillValue, value] : [row[r.c1], original3[i][r.c3]])),
          'backfilled values read back as given, only where asked',
        );

        await check('addIndexConcurrently', (knex) => addIndexConcurrently(knex, r.table, [r.c1, knex.raw(`lower(${q(r.c3)})`)], { ...schema, name: indexName, where: `${q(r.c1)} <> ${lit(value)}` }));
        await check('addIndexConcurrently again (done)', (knex) => addIndexConcurrently(knex, r.table, [r.c1, knex.raw(`lower(${q(r.c3)})`)], { ...schema, name: indexName, where: `${q(r.c1)} <> ${lit(value)}` }));
        await check('dropIndexConcurrently', (knex) => dropIndexConcurrently(knex, indexName, schema));
        await check('addIndexConcurrently with the generated name', (knex) => addIndexConcurrently(knex, r.table, [r.c2], schema));
        await check('addUniqueConstraint', (knex) => addUniqueConstraint(knex, r.table, [r.key, r.c1], schema));
        await check('addUniqueConstraint again (done)', (knex) => addUniqueConstraint(knex, r.table, [r.key, r.c1], schema));
        await check('addCheckConstraint', (knex) => addCheckConstraint(knex, r.table, checkName, `${q(r.c2)} IS NULL OR ${q(r.c1)} <> ${lit(whereValue + '?')}`, schema), { inTransaction: fuzz.int(2) === 0 });
        await check('addCheckConstraint again (done)', (knex) => addCheckConstraint(knex, r.table, checkName, `${q(r.c2)} IS NULL OR ${q(r.c1)} <> ${lit(whereValue + '?')}`, schema));
        await check('addForeignKey', (knex) => addForeignKey(knex, r.table, [r.fk], r.ref, [r.refKey], { ...schema, onDelete: 'cascade' }));
        await check('addForeignKey again (done)', (knex) => addForeignKey(knex, r.table, [r.fk], r.ref, [r.refKey], { ...schema, onDelete: 'cascade' }));
        await check('setNotNull', (knex) => setNotNull(knex, r.table, r.c3, { ...schema, native: false }));
        await check('dropNotNull (revert)', (knex) => dropNotNull(knex, r.table, r.c3, schema), { inTransaction: fuzz.int(2) === 0 });
        await check('setNotNull again', (knex) => setNotNull(knex, r.table, r.c3, { ...schema, native: false }));
        await check('prepareDropColumn', (knex) => prepareDropColumn(knex, r.table, r.c3, schema));
        await check('dropColumn (revert of addNullableColumn)', (knex) => dropColumn(knex, r.table, added, schema));
        await check('dropColumn (revert of addColumnWithDefault)', (knex) => dropColumn(knex, r.table, withDefault, schema));

        const before = await columnsOf([r.key, r.c1, r.c2, r.c3]);
        await check('saferRenameColumnPart1', (knex) => saferRenameColumnPart1(knex, r.table, r.c1, renamedColumn, schema), { inTransaction: fuzz.int(2) === 0 });
        t.deepEqual(
          (await client.query(`SELECT ${q(r.c1)}, ${q(renamedColumn)} FROM ${s}.${q(r.table)} ORDER BY ${q(r.key)}`)).rows.map((row) => [row[r.c1], row[renamedColumn]]),
          before.map((row) => [row[r.c1], row[r.c1]]),
          'both column names read the same values through the view',
        );
        await check('saferRenameColumnPart2', (knex) => saferRenameColumnPart2(knex, r.table, r.c1, renamedColumn, schema));
        await check('revertSaferRenameColumnPart2', (knex) => revertSaferRenameColumnPart2(knex, r.table, r.c1, renamedColumn, schema));
        await check('revertSaferRenameColumnPart1', (knex) => revertSaferRenameColumnPart1(knex, r.table, r.c1, renamedColumn, schema));
        t.deepEqual(await columnsOf([r.key, r.c1, r.c2, r.c3]), before, 'the column rename and its reverts keep every value');

        await check('saferRenameTablePart1', (knex) => saferRenameTablePart1(knex, r.table, renamedTable, schema), { inTransaction: fuzz.int(2) === 0 });
        await check('saferRenameTablePart2', (knex) => saferRenameTablePart2(knex, r.table, renamedTable, schema));
        await check('revertSaferRenameTablePart2', (knex) => revertSaferRenameTablePart2(knex, r.table, renamedTable, schema));
        await check('revertSaferRenameTablePart1', (knex) => revertSaferRenameTablePart1(knex, r.table, renamedTable, schema));
        t.deepEqual(await columnsOf([r.key, r.c1, r.c2, r.c3]), before, 'the table rename and its reverts keep every value');

        await client.query(`ALTER TABLE ${s}.${q(r.table)} DROP CONSTRAINT ${q(checkName)}`);
        await check('dropTable', (knex) => dropTable(knex, r.doomed, schema));
        t.is((await client.query('SELECT to_regclass($1) AS r', [`${s}.${q(r.doomed)}`])).rows[0].r, null);

        t.deepEqual(await snapshots(client, r.schema, r.decoyTables), decoysBefore, `round ${round}: every decoy table is byte-identical`);
        if (r.decoyColumns.length > 0) t.deepEqual(await columnsOf(r.decoyColumns), decoyColumnsBefore, `round ${round}: every decoy column is byte-identical`);
      } finally {
        await client.end();
        await db.drop();
      }
    }
  } finally {
    prototype.query = original;
  }
  t.is(totals.unpredictedFailures, 0);
  t.log(`${ROUNDS} rounds: ${totals.operations} operations, ${totals.statements} statements compared with the driver's`);
});
