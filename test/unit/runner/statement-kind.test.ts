import test from 'ava';
import { loadParser } from '../../../src/analysis/parser.js';
import { runnerStatement, type StatementKind } from '../../../src/runner/statement-kind.js';

test.before(async () => {
  await loadParser();
});

const kinds: Array<[string, StatementKind]> = [
  ['ALTER TABLE "a" ADD COLUMN "x" int', 'transactional'],
  ['select * from "a" where "id" = $1', 'transactional'],
  ['ALTER TABLE a ADD COLUMN x int; UPDATE a SET x = 1', 'transactional'],
  ['CREATE INDEX a_n ON a (n)', 'transactional'],
  ['ANALYZE a', 'transactional'],
  ['CLUSTER a USING a_pkey', 'transactional'],
  ['REINDEX TABLE a', 'transactional'],
  ["ALTER TYPE mood ADD VALUE 'meh'", 'transactional'],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY v', 'transactional'],
  ['CREATE INDEX CONCURRENTLY a_n ON a (n)', 'non-transactional'],
  ['create index concurrently if not exists "a_n" on "s"."a" using btree ("n")', 'non-transactional'],
  ['DROP INDEX CONCURRENTLY a_n', 'non-transactional'],
  ['REINDEX INDEX CONCURRENTLY a_n', 'non-transactional'],
  ['REINDEX DATABASE d', 'non-transactional'],
  ['VACUUM a', 'non-transactional'],
  ['VACUUM (ANALYZE) a', 'non-transactional'],
  ['CLUSTER', 'non-transactional'],
  ['ALTER TABLE p DETACH PARTITION c CONCURRENTLY', 'non-transactional'],
  ['CREATE DATABASE d', 'non-transactional'],
  ['ALTER SYSTEM SET work_mem = 1', 'non-transactional'],
  ['DISCARD ALL', 'non-transactional'],
  // A comment that looks like the keyword changes nothing: the parse tree decides.
  ['/* CONCURRENTLY */ CREATE INDEX a_n ON a (n) -- VACUUM', 'transactional'],
  ["SELECT 'CREATE INDEX CONCURRENTLY x ON y (z)'", 'transactional'],
  ['BEGIN', 'control'],
  ['COMMIT', 'control'],
  ['SAVEPOINT s; RELEASE SAVEPOINT s', 'control'],
  ['ROLLBACK TO SAVEPOINT s', 'control'],
  ["COMMIT PREPARED 'x'", 'control'],
  ['BEGIN; ALTER TABLE a ADD COLUMN x int; COMMIT', 'own-transaction'],
  ['ALTER TABLE a ADD COLUMN x int; COMMIT', 'own-transaction'],
  ['this is not sql', 'transactional'],
];

for (const [sql, kind] of kinds) {
  test(`${sql} → ${kind}`, (t) => {
    t.is(runnerStatement(sql).kind, kind);
  });
}

test('long, weakly locking statements are exempt from the statement timeout; the rest are not', (t) => {
  const exempt = [
    'CREATE INDEX CONCURRENTLY a_n ON a (n)',
    'DROP INDEX CONCURRENTLY a_n',
    'REINDEX INDEX CONCURRENTLY a_n',
    'ALTER TABLE a VALIDATE CONSTRAINT a_n_check',
  ];
  const timed = ['CREATE INDEX a_n ON a (n)', 'VACUUM a', 'ALTER TABLE a VALIDATE CONSTRAINT c, ADD COLUMN x int', 'UPDATE a SET n = 1', 'CREATE INDEX CONCURRENTLY a_n ON a (n); SELECT 1'];
  t.deepEqual(exempt.map((sql) => runnerStatement(sql).statementTimeout), [false, false, false, false]);
  t.deepEqual(timed.map((sql) => runnerStatement(sql).statementTimeout), [true, true, true, true, true]);
});

test('a concurrent build is described for its leftover care: schema, table, name, IF NOT EXISTS', (t) => {
  t.deepEqual(runnerStatement('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Odd ""name""" ON "s"."T" ("c") WHERE c > 0').concurrentBuild, {
    schema: 's',
    table: 'T',
    name: 'Odd "name"',
    ifNotExists: true,
  });
  t.deepEqual(runnerStatement('CREATE INDEX CONCURRENTLY ON a (n)').concurrentBuild, { schema: null, table: 'a', name: null, ifNotExists: false });
  t.is(runnerStatement('CREATE INDEX a_n ON a (n)').concurrentBuild, null);
  t.is(runnerStatement('DROP INDEX CONCURRENTLY a_n').concurrentBuild, null);
});

test('summaries name what decided the kind, and ALTER TYPE … ADD VALUE is flagged for servers before 12', (t) => {
  t.is(runnerStatement('VACUUM a').summary, 'VACUUM');
  t.is(runnerStatement('CREATE INDEX CONCURRENTLY a_n ON a (n)').summary, 'CREATE INDEX CONCURRENTLY');
  t.is(runnerStatement('ALTER TABLE p DETACH PARTITION c CONCURRENTLY').summary, 'DETACH PARTITION CONCURRENTLY');
  t.true(runnerStatement("ALTER TYPE mood ADD VALUE 'meh'").addsEnumValue);
  t.false(runnerStatement('ALTER TABLE a ADD COLUMN x int').addsEnumValue);
});
