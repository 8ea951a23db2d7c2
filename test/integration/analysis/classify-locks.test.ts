import test from 'ava';
import type { Knex } from 'knex';
import { analyzeSqlSync, loadParser } from '../../../src/analysis/classify/index.js';
import { lockModeOfPgLocks, strongerLock } from '../../../src/analysis/lock-rules.js';
import type { LockMode } from '../../../src/analysis/types.js';
import { createTestDatabase } from '../../helpers/db.js';
import type { TestDatabase } from '../../helpers/db.js';

/**
 * Cross-checks the classifier's lock table against the real server: each statement runs
 * in a transaction that is rolled back, and `pg_locks` shows what it actually holds.
 */

const FIXTURE = `
  CREATE SCHEMA app;
  CREATE TABLE u (id int PRIMARY KEY);
  CREATE TABLE t (id int PRIMARY KEY, a int, c int, u_id int, name text, note varchar(20));
  CREATE TABLE app.t (id int PRIMARY KEY, c int);
  CREATE INDEX t_a_idx ON t (a);
  CREATE TABLE measurements (at date NOT NULL) PARTITION BY RANGE (at);
  CREATE TABLE m_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE m_2025 (at date NOT NULL);
  CREATE VIEW v AS SELECT id FROM t;
  CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
  CREATE UNIQUE INDEX mv_id ON mv (id);
  CREATE SEQUENCE s;
  CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER audit AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit();
  ALTER TABLE t ADD CONSTRAINT t_u_fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID;
`;

const STATEMENTS: readonly string[] = [
  'ALTER TABLE t ADD COLUMN z int',
  'ALTER TABLE t ALTER COLUMN c SET DEFAULT 5',
  'ALTER TABLE t ALTER COLUMN c DROP NOT NULL',
  'ALTER TABLE t ALTER COLUMN c SET NOT NULL',
  'ALTER TABLE t ALTER COLUMN c TYPE bigint',
  'ALTER TABLE t ALTER COLUMN c SET STATISTICS 500',
  'ALTER TABLE t ALTER COLUMN c SET (n_distinct = 100)',
  'ALTER TABLE t ALTER COLUMN name SET STORAGE EXTERNAL',
  'ALTER TABLE t ADD CONSTRAINT c_pos CHECK (c > 0) NOT VALID',
  'ALTER TABLE t ADD CONSTRAINT t_u_fk2 FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID',
  'ALTER TABLE t VALIDATE CONSTRAINT t_u_fk',
  'ALTER TABLE t ALTER CONSTRAINT t_u_fk DEFERRABLE',
  'ALTER TABLE t DROP CONSTRAINT t_u_fk',
  'ALTER TABLE t SET (fillfactor = 70)',
  'ALTER TABLE t SET (autovacuum_enabled = false)',
  'ALTER TABLE t CLUSTER ON t_a_idx',
  'ALTER TABLE t SET WITHOUT CLUSTER',
  'ALTER TABLE t ENABLE TRIGGER audit',
  'ALTER TABLE t DISABLE TRIGGER USER',
  'ALTER TABLE t ENABLE ROW LEVEL SECURITY',
  'ALTER TABLE t REPLICA IDENTITY FULL',
  'ALTER TABLE t RENAME COLUMN a TO b',
  'ALTER TABLE t RENAME TO t2',
  'ALTER TABLE t SET SCHEMA app2',
  'ALTER TABLE t ADD COLUMN x int, ALTER COLUMN a SET STATISTICS 10',
  "ALTER TABLE measurements ATTACH PARTITION m_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
  'ALTER TABLE measurements DETACH PARTITION m_2024',
  'ALTER INDEX t_a_idx RENAME TO t_a_index',
  'CREATE INDEX i ON t (c)',
  'CREATE UNIQUE INDEX i ON app.t (c)',
  'CREATE TABLE t3 (id int REFERENCES u (id))',
  'CREATE TABLE m_2026 PARTITION OF measurements FOR VALUES FROM (\'2026-01-01\') TO (\'2027-01-01\')',
  'CREATE OR REPLACE VIEW v AS SELECT id, a FROM t',
  'CREATE TRIGGER audit2 AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION audit()',
  'CREATE STATISTICS st (dependencies) ON a, c FROM t',
  'DROP TABLE app.t',
  'DROP VIEW v',
  'DROP TRIGGER audit ON t',
  'DROP INDEX t_a_idx',
  'TRUNCATE t, u',
  'REINDEX INDEX t_a_idx',
  'REFRESH MATERIALIZED VIEW mv',
  'REFRESH MATERIALIZED VIEW CONCURRENTLY mv',
  'ANALYZE t',
  "COMMENT ON TABLE t IS 'x'",
  "COMMENT ON COLUMN app.t.c IS 'x'",
  'ALTER SEQUENCE s RESTART WITH 10',
  'LOCK TABLE t IN SHARE MODE',
  'INSERT INTO t (id) VALUES (1)',
  'UPDATE t SET a = 1',
  'DELETE FROM t',
  'SELECT * FROM t JOIN u ON u.id = t.u_id FOR UPDATE OF t',
  'SELECT * FROM t',
];

let db: TestDatabase;

test.before(async () => {
  await loadParser();
  db = await createTestDatabase('zd_classify');
  await db.knex.raw(FIXTURE);
  await db.knex.raw('CREATE SCHEMA app2');
});

test.after.always(async () => {
  await db?.drop();
});

class Rollback extends Error {}

/** The strongest lock held on each of `relations` after `sql` runs (resolved to OIDs first, so drops and renames still count). */
async function heldLocks(knex: Knex, sql: string, relations: readonly string[]): Promise<Map<string, LockMode | null>> {
  const held = new Map<string, LockMode | null>();
  try {
    await knex.transaction(async (trx) => {
      const oids = new Map<number, string>();
      for (const relation of relations) {
        const result = await trx.raw<{ rows: { oid: number | null }[] }>('SELECT to_regclass(?)::oid AS oid', [relation]);
        const oid = result.rows[0]?.oid;
        if (oid !== null && oid !== undefined) oids.set(Number(oid), relation);
        held.set(relation, null);
      }
      await trx.raw(sql);
      const result = await trx.raw<{ rows: { relation: number; mode: string }[] }>(
        `SELECT relation, mode FROM pg_locks WHERE locktype = 'relation' AND pid = pg_backend_pid() AND granted`,
      );
      for (const row of result.rows) {
        const name = oids.get(Number(row.relation));
        const mode = lockModeOfPgLocks(row.mode);
        if (!name || !mode) continue;
        held.set(name, strongerLock(held.get(name) ?? null, mode));
      }
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return held;
}

for (const sql of STATEMENTS) {
  test.serial(`the server holds the locks the classifier predicts: ${sql}`, async (t) => {
    const [analysis] = analyzeSqlSync(sql);
    t.truthy(analysis);
    t.true(analysis.locks.length > 0);
    const relations = analysis.locks.map((lock) => lock.relation);
    const held = await heldLocks(db.knex, sql, relations);
    for (const lock of analysis.locks) {
      t.is(held.get(lock.relation), lock.mode, `${lock.relation}: held ${JSON.stringify([...held])}`);
    }
  });
}
