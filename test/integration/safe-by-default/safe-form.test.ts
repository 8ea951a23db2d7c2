/**
 * The safe form of each statement, exactly, built on the statement's parse tree against a real
 * catalog: odd identifiers (quotes, `?`, unicode, 63-byte names) survive; an unnamed object gets
 * the name PostgreSQL itself gives it; an interrupted run's INVALID index or NOT VALID constraint is
 * resumed; an object of that name that is not the statement's is never dropped or reused.
 */
import test from 'ava';
import type { Knex } from 'knex';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { loadParser } from '../../../src/analysis/parser.js';
import { candidateOf } from '../../../src/safe-by-default/candidate.js';
import { renderStatement, runSafeForm, safeFormPlan } from '../../../src/safe-by-default/safe-form.js';
import type { SafeFormDirective } from '../../../src/safe-by-default/directive.js';
import { sendVerbatim } from '../../../src/runner/verbatim.js';
import { generatedName } from '../../../src/identifiers.js';

let db: TestDatabase;

const LONG = `${'é'.repeat(31)}x`; // 63 bytes

test.before(async () => {
  await loadParser();
  db = await createTestDatabase('safe');
  // As written: knex's raw would turn each ? into $n.
  await sendVerbatim(db.knex, `CREATE SCHEMA "Sch ém?";
CREATE TABLE "Sch ém?"."we""ird?" (id int, "c?" int, "Ünï" text, "select" int, ref int);
CREATE TABLE "Sch ém?".parent (id int PRIMARY KEY);
CREATE TABLE "Sch ém?"."${LONG}" (id int, "c?" int);
CREATE TABLE only_there (id int);
CREATE TABLE parted (id int) PARTITION BY RANGE (id);
INSERT INTO "Sch ém?".parent VALUES (1);
INSERT INTO "Sch ém?"."we""ird?" SELECT g, g, 'u' || g, g, 1 FROM generate_series(1, 50) g;`);
  await sendVerbatim(db.knex, `ALTER TABLE only_there SET SCHEMA "Sch ém?"`);
});

test.after.always(async () => {
  await db?.drop();
});

function directive(sql: string): SafeFormDirective {
  const candidate = candidateOf(sql);
  if (!candidate) throw new Error(`no safe form: ${sql}`);
  return { ordinal: 0, sql, kind: candidate.kind, stage: null, findings: [] };
}

async function steps(knex: Knex, sql: string): Promise<string[]> {
  return (await safeFormPlan(knex, directive(sql))).steps.map((s) => `${s.transaction}: ${s.sql}`);
}

const T = '"Sch ém?"."we""ird?"';
/** setNotNull's temporary CHECK on the 63-byte table: cut, with a hash (the operations' own names). */
const LONG_CHECK = generatedName([LONG, 'id', 'not_null']);

const EXPECTED: ReadonlyArray<[string, string[]]> = [
  [
    `CREATE INDEX "i?x" ON ${T} ("c?", "Ünï" DESC NULLS LAST) INCLUDE ("select") WITH (fillfactor = 70) WHERE "select" > 0`,
    [`none: CREATE INDEX CONCURRENTLY "i?x" ON "Sch ém?"."we""ird?" ("c?", "Ünï" DESC NULLS LAST) INCLUDE ("select") WITH (fillfactor=70) WHERE "select" > 0`],
  ],
  [`create unique index on ${T} (lower("Ünï"))`, []],
  [`CREATE INDEX ON "Sch ém?"."${LONG}" ("c?")`, [`none: CREATE INDEX CONCURRENTLY "${'é'.repeat(28)}_c?_idx" ON "Sch ém?"."${LONG}" ("c?")`]],
  [
    `ALTER TABLE ${T} ADD FOREIGN KEY (ref) REFERENCES "Sch ém?".parent ON DELETE SET NULL`,
    [
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" ADD CONSTRAINT "we""ird?_ref_fkey" FOREIGN KEY (ref) REFERENCES "Sch ém?".parent ON DELETE SET NULL NOT VALID`,
      `own: ALTER TABLE "Sch ém?"."we""ird?" VALIDATE CONSTRAINT "we""ird?_ref_fkey"`,
    ],
  ],
  [
    `ALTER TABLE ${T} ADD CONSTRAINT "?" CHECK ("Ünï" <> '?' AND "c?" > 0)`,
    [
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" ADD CONSTRAINT "?" CHECK ("Ünï" <> '?' AND "c?" > 0) NOT VALID`,
      `own: ALTER TABLE "Sch ém?"."we""ird?" VALIDATE CONSTRAINT "?"`,
    ],
  ],
  [
    `ALTER TABLE ${T} ALTER COLUMN "Ünï" SET NOT NULL`,
    [
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" ADD CONSTRAINT "we""ird?_Ünï_not_null" CHECK ("Ünï" IS NOT NULL) NOT VALID`,
      `own: ALTER TABLE "Sch ém?"."we""ird?" VALIDATE CONSTRAINT "we""ird?_Ünï_not_null"`,
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" ALTER COLUMN "Ünï" SET NOT NULL`,
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" DROP CONSTRAINT "we""ird?_Ünï_not_null"`,
    ],
  ],
  [
    `ALTER TABLE ${T} ADD UNIQUE ("c?") INCLUDE ("select") DEFERRABLE INITIALLY DEFERRED`,
    [
      `none: CREATE UNIQUE INDEX CONCURRENTLY "we""ird?_c?_select_key" ON "Sch ém?"."we""ird?" ("c?") INCLUDE ("select")`,
      `inherit: ALTER TABLE "Sch ém?"."we""ird?" ADD CONSTRAINT "we""ird?_c?_select_key" UNIQUE USING INDEX "we""ird?_c?_select_key" DEFERRABLE INITIALLY DEFERRED`,
    ],
  ],
  [
    `ALTER TABLE "Sch ém?"."${LONG}" ADD PRIMARY KEY (id)`,
    [
      `inherit: ALTER TABLE "Sch ém?"."${LONG}" ADD CONSTRAINT "${LONG_CHECK}" CHECK ("id" IS NOT NULL) NOT VALID`,
      `own: ALTER TABLE "Sch ém?"."${LONG}" VALIDATE CONSTRAINT "${LONG_CHECK}"`,
      `inherit: ALTER TABLE "Sch ém?"."${LONG}" ALTER COLUMN "id" SET NOT NULL`,
      `inherit: ALTER TABLE "Sch ém?"."${LONG}" DROP CONSTRAINT "${LONG_CHECK}"`,
      `none: CREATE UNIQUE INDEX CONCURRENTLY "${'é'.repeat(29)}_pkey" ON "Sch ém?"."${LONG}" (id)`,
      `inherit: ALTER TABLE "Sch ém?"."${LONG}" ADD CONSTRAINT "${'é'.repeat(29)}_pkey" PRIMARY KEY USING INDEX "${'é'.repeat(29)}_pkey"`,
    ],
  ],
];

test.serial('each form, exactly, with odd identifiers; every step runs', async (t) => {
  for (const [sql, expected] of EXPECTED) {
    if (expected.length === 0) continue;
    t.deepEqual(await steps(db.knex, sql), expected, sql);
  }
  for (const [sql, expected] of EXPECTED) {
    if (expected.length === 0) continue;
    const plan = await runSafeForm(db.knex, directive(sql));
    t.is(plan.steps.length, expected.length);
    // Run: done. The same statement again is nothing left to do.
    t.deepEqual(await steps(db.knex, sql), [], `${sql}: done`);
  }
  const state = await sendVerbatim(db.knex, `SELECT conname, convalidated FROM pg_constraint WHERE connamespace = '"Sch ém?"'::regnamespace AND contype <> 'p' OR conname LIKE '%_pkey' AND connamespace = '"Sch ém?"'::regnamespace ORDER BY 1`);
  t.deepEqual(state.rows, [
    { conname: '?', convalidated: true },
    { conname: 'parent_pkey', convalidated: true },
    { conname: 'we"ird?_c?_select_key', convalidated: true },
    { conname: 'we"ird?_ref_fkey', convalidated: true },
    { conname: `${'é'.repeat(29)}_pkey`, convalidated: true },
  ]);
  const invalid = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid`);
  t.deepEqual(invalid.rows, [{ n: 0 }]);
});

test.serial('an unnamed object gets the name PostgreSQL gives it', async (t) => {
  const statements = [
    `CREATE INDEX ON "Sch ém?"."${LONG}" ("c?", id)`,
    `CREATE UNIQUE INDEX ON "Sch ém?"."${LONG}" (id)`,
    `ALTER TABLE "Sch ém?"."${LONG}" ADD UNIQUE ("c?", id)`,
    `ALTER TABLE "Sch ém?"."${LONG}" ADD FOREIGN KEY ("c?") REFERENCES "Sch ém?".parent`,
    `ALTER TABLE "Sch ém?"."${LONG}" ADD CHECK ("c?" > id)`,
    `ALTER TABLE "Sch ém?"."${LONG}" ADD CHECK ("c?" > 0)`,
  ];
  for (const sql of statements) {
    const named = (await safeFormPlan(db.knex, directive(sql))).steps.find((s) => /CONCURRENTLY|NOT VALID/.test(s.sql))!.sql;
    const ours = /(?:INDEX CONCURRENTLY|CONSTRAINT) ("(?:[^"]|"")+"|\S+)/.exec(named)![1].replace(/^"|"$/g, '').replace(/""/g, '"');
    // PostgreSQL's own choice, in a transaction rolled back.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let theirs: string[];
    try {
      await client.query('BEGIN');
      const before = new Set((await client.query(`SELECT oid FROM pg_class UNION ALL SELECT oid FROM pg_constraint`)).rows.map((r: { oid: number }) => r.oid));
      await client.query(sql);
      const created = (await client.query(`SELECT oid, relname AS name FROM pg_class WHERE relkind = 'i' UNION ALL SELECT oid, conname FROM pg_constraint WHERE contype IN ('f', 'c')`)).rows;
      theirs = created.filter((r: { oid: number }) => !before.has(r.oid)).map((r: { name: string }) => r.name);
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
    t.true(theirs.includes(ours), `${sql}: ${ours} among ${JSON.stringify(theirs)}`);
  }
});

test.serial('an interrupted build or validation is resumed; an object of that name that is not the statement\'s is never touched', async (t) => {
  await db.knex.raw(`CREATE TABLE resumed (id int, a int, b int); INSERT INTO resumed SELECT g, g % 2, g FROM generate_series(1, 10) g; CREATE TABLE r2 (id int PRIMARY KEY); INSERT INTO r2 VALUES (1)`);
  // A concurrent unique build that failed leaves an INVALID index behind.
  await t.throwsAsync(db.knex.raw('CREATE UNIQUE INDEX CONCURRENTLY resumed_a ON resumed (a)'));
  t.deepEqual(await steps(db.knex, 'CREATE UNIQUE INDEX resumed_a ON resumed (a)'), [
    'none: DROP INDEX CONCURRENTLY IF EXISTS "public"."resumed_a"',
    'none: CREATE UNIQUE INDEX CONCURRENTLY resumed_a ON public.resumed (a)',
  ]);
  // The same name on another definition is a user's index: refused, named, kept.
  const error = await t.throwsAsync(steps(db.knex, 'CREATE INDEX resumed_a ON resumed (b)'));
  t.regex(error.message, /^addIndexConcurrently: an INVALID index "resumed_a" already exists on "public"\."resumed" and is not the one addIndexConcurrently creates:\n {2}found: {4}CREATE UNIQUE INDEX resumed_a ON public\.resumed USING btree \(a\)\n/);
  t.deepEqual((await db.knex.raw(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'resumed_a'`)).rows, [{ n: 1 }]);

  await db.knex.raw('ALTER TABLE resumed ADD CONSTRAINT resumed_id_fkey FOREIGN KEY (id) REFERENCES r2 NOT VALID');
  t.deepEqual(await steps(db.knex, 'ALTER TABLE resumed ADD FOREIGN KEY (id) REFERENCES r2'), ['own: ALTER TABLE "public"."resumed" VALIDATE CONSTRAINT "resumed_id_fkey"']);
  await db.knex.raw(`ALTER TABLE resumed ADD CONSTRAINT resumed_check CHECK (b > 0) NOT VALID`);
  t.deepEqual(await steps(db.knex, 'ALTER TABLE resumed ADD CONSTRAINT resumed_check CHECK (b > 0)'), ['own: ALTER TABLE "public"."resumed" VALIDATE CONSTRAINT "resumed_check"']);
  const other = await t.throwsAsync(steps(db.knex, 'ALTER TABLE resumed ADD CONSTRAINT resumed_check CHECK (b > 1)'));
  t.regex(other.message, /^addCheckConstraint: a constraint "resumed_check" already exists on "public"\."resumed" and is not the one addCheckConstraint creates:/);
  // IF NOT EXISTS keeps its meaning: a valid index of that name is left alone.
  await db.knex.raw('CREATE INDEX resumed_b ON resumed (b)');
  t.deepEqual(await steps(db.knex, 'CREATE INDEX IF NOT EXISTS resumed_b ON resumed (a, b)'), []);
});

test.serial('a statement the safe form cannot take is refused, saying why and what to do', async (t) => {
  const partitioned = await t.throwsAsync(steps(db.knex, 'CREATE INDEX parted_id ON parted (id)'));
  t.is(
    partitioned.message,
    'safeByDefault cannot run\n  CREATE INDEX parted_id ON parted (id)\nin its safe form: "public"."parted" is a partitioned table, on which PostgreSQL cannot build an index concurrently. Build it on each partition with addIndexConcurrently, then CREATE INDEX ON ONLY the parent and ATTACH each partition\'s index; or opt this migration out with export const config = { safeByDefault: false }.',
  );
  const unnamed = await t.throwsAsync(steps(db.knex, `CREATE INDEX ON ${T} (lower("Ünï"))`));
  t.regex(unnamed.message, /in its safe form: the index has no name, and an expression among its columns makes the name PostgreSQL would choose unsure\. Name the index/);
});

test.serial('an unqualified table is the one the search path finds, as PostgreSQL resolves it', async (t) => {
  await db.knex.transaction(async (trx) => {
    await sendVerbatim(trx, `SET LOCAL search_path = public, "Sch ém?"`);
    t.deepEqual(await steps(trx, 'CREATE INDEX only_there_id ON only_there (id)'), ['none: CREATE INDEX CONCURRENTLY only_there_id ON "Sch ém?".only_there (id)']);
  });
});

test('the rendering of a safe form is proved by parsing it back', (t) => {
  const tree = candidateOf('CREATE INDEX i ON t (a)')!.node;
  t.is(renderStatement(tree), 'CREATE INDEX i ON t (a)');
  const error = t.throws(() => renderStatement({ IndexStmt: { ...tree.IndexStmt, concurrent: true, unknownField: 1 } }));
  t.is(error?.message, "safeByDefault: the deparser's rendering of a safe form does not parse back to it; refusing to run it:\n  CREATE INDEX CONCURRENTLY i ON t (a)");
});
