import test from 'ava';
import { analyzeSql, analyzeSqlSync, loadParser } from '../../../src/analysis/classify/index.js';
import type { StatementAnalysis } from '../../../src/analysis/types.js';

test.before(async () => {
  await loadParser();
});

function one(sql: string, newTables?: ReadonlySet<string>): StatementAnalysis {
  const analyses = analyzeSqlSync(sql, newTables ? { newTables } : {});
  if (analyses.length !== 1) throw new Error(`expected one statement, got ${analyses.length}`);
  return analyses[0];
}

// ---- rewrites --------------------------------------------------------------------------

const REWRITES: readonly (readonly [string, boolean])[] = [
  ['ALTER TABLE t ALTER COLUMN c TYPE bigint', true],
  ['ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()', false],
  ['ALTER TABLE t ADD COLUMN c timestamptz DEFAULT CURRENT_TIMESTAMP', false],
  ["ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now() + interval '1 day'", false],
  ["ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT 'x'", false],
  ["ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{}'::jsonb", false],
  ['ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()', true],
  ['ALTER TABLE t ADD COLUMN c float8 DEFAULT random()', true],
  ['ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()', true],
  ['ALTER TABLE t ADD COLUMN c uuid DEFAULT uuid_generate_v4()', true],
  ["ALTER TABLE t ADD COLUMN c bigint DEFAULT nextval('s')", true],
  ['ALTER TABLE t ADD COLUMN c int DEFAULT my_function()', true],
  ['ALTER TABLE t ADD COLUMN c serial', true],
  ['ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY', true],
  ['ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED', true],
  ['ALTER TABLE t SET LOGGED', true],
  ['ALTER TABLE t SET UNLOGGED', true],
  ['ALTER TABLE t SET TABLESPACE fast', true],
  ['ALTER TABLE t SET ACCESS METHOD heap2', true],
  ['VACUUM FULL t', true],
  ['CLUSTER t USING t_pkey', true],
  ['VACUUM t', false],
  ['ALTER TABLE t ALTER COLUMN c SET NOT NULL', false],
  ['CREATE INDEX i ON t (a)', false],
];

for (const [sql, rewrites] of REWRITES) {
  test(`rewrites=${rewrites}: ${sql}`, (t) => {
    t.is(one(sql).rewrites, rewrites);
  });
}

// Type changes whose old type is known (the column was created earlier in the same input).
const TYPE_CHANGES: readonly (readonly [from: string, to: string, rewrites: boolean])[] = [
  ['varchar(50)', 'varchar(100)', false],
  ['varchar(50)', 'varchar(50)', false],
  ['varchar(100)', 'varchar(50)', true],
  ['varchar(50)', 'text', false],
  ['varchar(50)', 'varchar', false],
  ['varchar', 'varchar(50)', true],
  ['text', 'varchar', false],
  ['text', 'varchar(20)', true],
  ['numeric(10,2)', 'numeric(12,2)', false],
  ['numeric(10,2)', 'numeric(12,3)', true],
  ['numeric(10,2)', 'numeric', false],
  ['numeric', 'numeric(10,2)', true],
  ['cidr', 'inet', false],
  ['integer', 'bigint', true],
  ['int', 'integer', false],
  ['timestamp', 'timestamptz', true],
  ['json', 'jsonb', true],
  ['text[]', 'text', true],
];

for (const [from, to, rewrites] of TYPE_CHANGES) {
  test(`ALTER COLUMN TYPE ${from} → ${to} rewrites=${rewrites}`, (t) => {
    const analyses = analyzeSqlSync(`ALTER TABLE t ADD COLUMN c ${from}; ALTER TABLE t ALTER COLUMN c TYPE ${to}`);
    t.is(analyses[1].rewrites, rewrites);
    t.is(analyses[1].findings.some((finding) => finding.code === 'column-type-rewrite'), rewrites);
  });
}

test('a USING expression that computes new values rewrites even between coercible types', (t) => {
  const analyses = analyzeSqlSync("ALTER TABLE t ADD COLUMN c varchar(10); ALTER TABLE t ALTER COLUMN c TYPE text USING c || 'x'");
  t.true(analyses[1].rewrites);
});

test('a USING that only casts the column keeps a coercible change rewrite-free', (t) => {
  const analyses = analyzeSqlSync('ALTER TABLE t ADD COLUMN c varchar(10); ALTER TABLE t ALTER COLUMN c TYPE text USING c::text');
  t.false(analyses[1].rewrites);
});

// ---- scans -----------------------------------------------------------------------------

const SCANS: readonly (readonly [string, boolean])[] = [
  ['ALTER TABLE t ALTER COLUMN c SET NOT NULL', true],
  ['ALTER TABLE t ADD CONSTRAINT ck CHECK (c > 0)', true],
  ['ALTER TABLE t ADD CONSTRAINT ck CHECK (c > 0) NOT VALID', false],
  ['ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u_id) REFERENCES u (id)', true],
  ['ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID', false],
  ['ALTER TABLE t VALIDATE CONSTRAINT fk', true],
  ['CREATE INDEX i ON t (a)', true],
  ['CREATE INDEX CONCURRENTLY i ON t (a)', true],
  ['ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)', true],
  ['ALTER TABLE t ADD PRIMARY KEY (id)', true],
  ['ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u_idx', false],
  ['ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_pkey_idx', false],
  ["ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)", true],
  ['ALTER TABLE t ADD COLUMN c text', false],
  ['ALTER TABLE t DROP COLUMN c', false],
  ['ALTER TABLE t ALTER COLUMN c DROP NOT NULL', false],
];

for (const [sql, scans] of SCANS) {
  test(`scans=${scans}: ${sql}`, (t) => {
    t.is(one(sql).scans, scans);
  });
}

// ---- transactional ---------------------------------------------------------------------

const NON_TRANSACTIONAL: readonly string[] = [
  'CREATE INDEX CONCURRENTLY i ON t (a)',
  'DROP INDEX CONCURRENTLY i',
  'REINDEX INDEX CONCURRENTLY i',
  'REINDEX TABLE CONCURRENTLY t',
  'ALTER TABLE p DETACH PARTITION c CONCURRENTLY',
  'VACUUM t',
  'VACUUM FULL t',
  'CREATE DATABASE app',
  'DROP DATABASE app',
  "CREATE TABLESPACE fast LOCATION '/ssd'",
  'DROP TABLESPACE fast',
  "ALTER SYSTEM SET work_mem = '64MB'",
];

for (const sql of NON_TRANSACTIONAL) {
  test(`transactional=false: ${sql}`, (t) => {
    const analysis = one(sql);
    t.false(analysis.transactional);
    t.true(analysis.classified);
  });
}

const TRANSACTIONAL: readonly string[] = [
  'CREATE INDEX i ON t (a)',
  'DROP INDEX i',
  'ANALYZE t',
  "ALTER TYPE mood ADD VALUE 'x'",
  'ALTER TABLE p DETACH PARTITION c',
  'ALTER TABLE t ADD COLUMN c text',
];

for (const sql of TRANSACTIONAL) {
  test(`transactional=true: ${sql}`, (t) => {
    t.true(one(sql).transactional);
  });
}

// ---- locks on several relations ---------------------------------------------------------

test('ADD FOREIGN KEY locks the table and the referenced table in SHARE ROW EXCLUSIVE', (t) => {
  const analysis = one('ALTER TABLE app.orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES crm.customers (id)');
  t.deepEqual(analysis.locks, [
    { mode: 'SHARE ROW EXCLUSIVE', relation: 'app.orders' },
    { mode: 'SHARE ROW EXCLUSIVE', relation: 'crm.customers' },
  ]);
  t.is(analysis.relation, 'app.orders');
});

test('CREATE TABLE locks only the tables its REFERENCES clauses name', (t) => {
  const analysis = one('CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id), FOREIGN KEY (id) REFERENCES "Ledger" (order_id))');
  t.deepEqual(analysis.locks, [
    { mode: 'SHARE ROW EXCLUSIVE', relation: 'customers' },
    { mode: 'SHARE ROW EXCLUSIVE', relation: 'Ledger' },
  ]);
});

test('ATTACH PARTITION locks the parent in SHARE UPDATE EXCLUSIVE and the partition in ACCESS EXCLUSIVE', (t) => {
  const analysis = one("ALTER TABLE measurements ATTACH PARTITION m_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
  t.deepEqual(analysis.locks, [
    { mode: 'SHARE UPDATE EXCLUSIVE', relation: 'measurements' },
    { mode: 'ACCESS EXCLUSIVE', relation: 'm_2025' },
  ]);
});

test('a multi-action ALTER TABLE keeps the strongest lock per relation and lists each action', (t) => {
  const analysis = one('ALTER TABLE t ALTER COLUMN a SET STATISTICS 100, ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) NOT VALID, DROP COLUMN b');
  t.deepEqual(analysis.locks, [
    { mode: 'ACCESS EXCLUSIVE', relation: 't' },
    { mode: 'SHARE ROW EXCLUSIVE', relation: 'u' },
  ]);
  t.deepEqual(
    analysis.actions.map((action) => [action.action, action.stage, action.lock]),
    [
      ['SET STATISTICS', null, 'SHARE UPDATE EXCLUSIVE'],
      ['ADD FOREIGN KEY NOT VALID', 'post-deploy', 'SHARE ROW EXCLUSIVE'],
      ['DROP COLUMN', 'post-deploy', 'ACCESS EXCLUSIVE'],
    ],
  );
  t.is(analysis.summary, 'ALTER TABLE SET STATISTICS, ADD FOREIGN KEY NOT VALID, DROP COLUMN');
});

test('a query locks what it reads in ACCESS SHARE and what it writes in ROW EXCLUSIVE, ignoring CTE names', (t) => {
  const analysis = one('WITH recent AS (SELECT id FROM orders) UPDATE customers SET active = true WHERE id IN (SELECT id FROM recent)');
  t.deepEqual(analysis.locks, [
    { mode: 'ROW EXCLUSIVE', relation: 'customers' },
    { mode: 'ACCESS SHARE', relation: 'orders' },
  ]);
});

// ---- objects -----------------------------------------------------------------------------

test('objects: ALTER TABLE actions name their columns with their effect', (t) => {
  const analysis = one(
    'ALTER TABLE app.users ADD COLUMN email text, DROP COLUMN legacy, ALTER COLUMN age TYPE bigint, ALTER COLUMN name SET NOT NULL, ADD CONSTRAINT fk FOREIGN KEY (org_id) REFERENCES orgs (id)',
  );
  t.deepEqual(analysis.objects, [
    { schema: 'app', table: 'users', column: null, effect: 'alter' },
    { schema: 'app', table: 'users', column: 'email', effect: 'create' },
    { schema: 'app', table: 'users', column: 'legacy', effect: 'drop' },
    { schema: 'app', table: 'users', column: 'age', effect: 'alter' },
    { schema: 'app', table: 'users', column: 'name', effect: 'alter' },
    { schema: 'app', table: 'users', column: 'org_id', effect: 'alter' },
    { schema: null, table: 'orgs', column: null, effect: 'reference' },
    { schema: null, table: 'orgs', column: 'id', effect: 'reference' },
  ]);
});

test('objects: renames carry the new name', (t) => {
  t.deepEqual(one('ALTER TABLE orders RENAME TO purchases').objects, [
    { schema: null, table: 'orders', column: null, effect: 'rename', renamedTo: 'purchases' },
  ]);
  t.deepEqual(one('ALTER TABLE app.orders RENAME COLUMN total TO amount').objects, [
    { schema: 'app', table: 'orders', column: 'total', effect: 'rename', renamedTo: 'amount' },
  ]);
  t.deepEqual(one('ALTER TABLE orders SET SCHEMA archive').objects, [
    { schema: null, table: 'orders', column: null, effect: 'rename', renamedTo: 'archive.orders' },
  ]);
});

test('objects: CREATE INDEX references the table and its columns, expressions and predicate included', (t) => {
  t.deepEqual(one('CREATE INDEX i ON orders (customer_id, lower(email)) INCLUDE (total) WHERE deleted_at IS NULL').objects, [
    { schema: null, table: 'orders', column: null, effect: 'reference' },
    { schema: null, table: 'orders', column: 'customer_id', effect: 'reference' },
    { schema: null, table: 'orders', column: 'email', effect: 'reference' },
    { schema: null, table: 'orders', column: 'total', effect: 'reference' },
    { schema: null, table: 'orders', column: 'deleted_at', effect: 'reference' },
  ]);
});

test('objects: CREATE TABLE creates the table and its columns and references FK targets', (t) => {
  t.deepEqual(one('CREATE TABLE shop.orders (id serial PRIMARY KEY, customer_id int REFERENCES customers (id))').objects, [
    { schema: 'shop', table: 'orders', column: null, effect: 'create' },
    { schema: 'shop', table: 'orders', column: 'id', effect: 'create' },
    { schema: 'shop', table: 'orders', column: 'customer_id', effect: 'create' },
    { schema: null, table: 'customers', column: null, effect: 'reference' },
    { schema: null, table: 'customers', column: 'id', effect: 'reference' },
  ]);
});

test('objects: DROP TABLE drops each table; CHECK constraints name the columns they read', (t) => {
  t.deepEqual(one('DROP TABLE a, app.b').objects, [
    { schema: null, table: 'a', column: null, effect: 'drop' },
    { schema: 'app', table: 'b', column: null, effect: 'drop' },
  ]);
  t.deepEqual(
    one('ALTER TABLE t ADD CONSTRAINT ck CHECK (lo < hi) NOT VALID').objects.filter((ref) => ref.column !== null),
    [
      { schema: null, table: 't', column: 'lo', effect: 'alter' },
      { schema: null, table: 't', column: 'hi', effect: 'alter' },
    ],
  );
});

test('objects: DML references its target and the columns it writes', (t) => {
  t.deepEqual(one('UPDATE orders SET amount = total WHERE amount IS NULL').objects, [
    { schema: null, table: 'orders', column: null, effect: 'reference' },
    { schema: null, table: 'orders', column: 'amount', effect: 'reference' },
  ]);
});

// ---- stages across an input ------------------------------------------------------------

test('a constraint on a column added earlier in the same input is pre-deploy: old code never writes it', (t) => {
  const [add, constrain] = analyzeSqlSync('ALTER TABLE t ADD COLUMN u_id int; ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID');
  t.is(add.stage, 'pre-deploy');
  t.is(constrain.stage, 'pre-deploy');
});

test('actions on a table created earlier in the input decide no stage', (t) => {
  const analyses = analyzeSqlSync(
    'CREATE TABLE t (id int); ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES u (id); CREATE UNIQUE INDEX i ON t (id); ALTER TABLE t ALTER COLUMN id SET NOT NULL',
  );
  t.deepEqual(
    analyses.map((analysis) => analysis.stage),
    ['pre-deploy', null, null, null],
  );
});

// ---- text, parse errors, unknown statements ----------------------------------------------

test('each statement keeps its own text, without the semicolon, multi-byte characters included', (t) => {
  const analyses = analyzeSqlSync("  SELECT 'héllo wörld';\n\n -- note\n UPDATE t SET name = 'ü' ;SELECT 1");
  t.deepEqual(
    analyses.map((analysis) => analysis.sql),
    ["SELECT 'héllo wörld'", "UPDATE t SET name = 'ü'", 'SELECT 1'],
  );
});

test('an empty input has no statements', (t) => {
  t.deepEqual(analyzeSqlSync('  \n '), []);
  t.deepEqual(analyzeSqlSync(';'), []);
});

test('a parse error gives one ParseError entry with the parser message', (t) => {
  const analyses = analyzeSqlSync('ALTER TABLE t ADD COLUMN');
  t.is(analyses.length, 1);
  const [analysis] = analyses;
  t.is(analysis.kind, 'ParseError');
  t.false(analysis.classified);
  t.is(analysis.stage, null);
  t.is(analysis.sql, 'ALTER TABLE t ADD COLUMN');
  t.deepEqual(
    analysis.findings.map((finding) => [finding.code, finding.severity]),
    [['parse-error', 'error']],
  );
  t.regex(analysis.findings[0].message, /syntax error at end of input/);
});

test('a parse error in one statement leaves the others classified', (t) => {
  const analyses = analyzeSqlSync("CREATE INDEX i ON t (a); CREAT TABLE x (id int); SELECT ';'");
  t.deepEqual(
    analyses.map((analysis) => [analysis.kind, analysis.sql]),
    [
      ['IndexStmt', 'CREATE INDEX i ON t (a)'],
      ['ParseError', 'CREAT TABLE x (id int)'],
      ['SelectStmt', "SELECT ';'"],
    ],
  );
});

const UNKNOWN: readonly (readonly [string, string])[] = [
  ['DO $$ BEGIN PERFORM 1; END $$', 'DoStmt'],
  ['CALL refresh_everything()', 'CallStmt'],
  ['EXPLAIN ANALYZE DELETE FROM t', 'ExplainStmt'],
];

for (const [sql, kind] of UNKNOWN) {
  test(`an unknown statement kind is reported, never called safe: ${kind}`, (t) => {
    const analysis = one(sql);
    t.is(analysis.kind, kind);
    t.false(analysis.classified);
    t.is(analysis.stage, null);
    t.deepEqual(
      analysis.findings.map((finding) => [finding.code, finding.severity]),
      [['unclassified-statement', 'warning']],
    );
  });
}

test('analyzeSql loads the parser itself', async (t) => {
  const [analysis] = await analyzeSql('DROP TABLE t');
  t.is(analysis.stage, 'post-deploy');
});

test('a unique index on a column added earlier in the same input is pre-deploy', (t) => {
  const [, index] = analyzeSqlSync('ALTER TABLE users ADD COLUMN handle text; CREATE UNIQUE INDEX CONCURRENTLY users_handle ON users (handle)');
  t.is(index.stage, 'pre-deploy');
  t.is(one('CREATE UNIQUE INDEX CONCURRENTLY users_handle ON users (handle)').stage, 'post-deploy');
});

test('ALTER INDEX names no table object', (t) => {
  t.deepEqual(one('ALTER INDEX orders_idx SET TABLESPACE fast').objects, []);
  t.deepEqual(one('ALTER INDEX orders_idx RENAME TO orders_customer_idx').objects, []);
});

test('objects: constraint, trigger and index names are not mistaken for columns', (t) => {
  for (const sql of ['ALTER TABLE t DROP CONSTRAINT c', 'ALTER TABLE t VALIDATE CONSTRAINT c', 'ALTER TABLE t ENABLE TRIGGER tr', 'ALTER TABLE t CLUSTER ON t_idx']) {
    t.deepEqual(one(sql).objects, [{ schema: null, table: 't', column: null, effect: 'alter' }], sql);
  }
});
