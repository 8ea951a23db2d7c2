import test from 'ava';
import { SchemaModel, type LoadedRelation } from '../../../src/analysis/catalog/schema-model.js';
import { judgeColumnChanges, loadParser, MigrationClassifier } from '../../../src/analysis/classify/index.js';
import { parseStatements } from '../../../src/analysis/parser.js';
import type { StatementAnalysis } from '../../../src/analysis/types.js';

test.before(async () => {
  await loadParser();
});

type Column = LoadedRelation['columns'][number];

function relation(name: string, columns: Column[], extra: Partial<LoadedRelation> = {}): LoadedRelation {
  return { schema: 'public', name, kind: 'r', columns, indexes: [], constraints: [], referencedBy: [], reads: [], viewDefinition: null, rows: 1000, bytes: 8192, ...extra };
}

/** A model of a database with `users`, and `parent` ← `child` ← `other` linked by foreign keys. */
function model(): SchemaModel {
  const m = new SchemaModel(['public'], 150000);
  const users = relation('users', [
    { name: 'id', type: 'integer', notNull: true, default: "nextval('users_id_seq'::regclass)" },
    { name: 'name', type: 'character varying(255)', notNull: false, default: null },
    { name: 'email', type: 'character varying(255)', notNull: true, default: null },
    { name: 'code', type: 'character varying(20)', notNull: false, default: null },
    { name: 'score', type: 'integer', notNull: false, default: '0' },
  ]);
  const parent = relation('parent', [{ name: 'id', type: 'integer', notNull: true, default: null }], {
    constraints: [{ name: 'parent_pkey', type: 'p', columns: ['id'], references: null, validated: true, definition: '' }],
    referencedBy: ['public.child'],
  });
  const child = relation('child', [{ name: 'id', type: 'integer', notNull: true, default: null }, { name: 'parent_id', type: 'integer', notNull: false, default: null }], {
    indexes: [{ schema: 'public', name: 'child_pid', columns: ['parent_id'], unique: false, primary: false, valid: true, partial: false, definition: '' }],
    constraints: [
      { name: 'child_pkey', type: 'p', columns: ['id'], references: null, validated: true, definition: '' },
      { name: 'child_parent_fk', type: 'f', columns: ['parent_id'], references: 'public.parent', validated: true, definition: '' },
    ],
    referencedBy: ['public.other'],
  });
  const other = relation('other', [{ name: 'child_id', type: 'integer', notNull: false, default: null }], {
    constraints: [{ name: 'other_child_fk', type: 'f', columns: ['child_id'], references: 'public.child', validated: true, definition: '' }],
  });
  m.absorb([], [], [users, parent, child, other]);
  return m;
}

function classify(...sqls: string[]): StatementAnalysis[] {
  const classifier = new MigrationClassifier(model());
  return judgeColumnChanges(sqls.flatMap((sql) => classifier.classify(parseStatements(sql))));
}

function stages(analyses: readonly StatementAnalysis[]): Array<string | null> {
  return analyses.map((a) => a.stage);
}

function codes(analyses: readonly StatementAnalysis[]): string[] {
  return analyses.flatMap((a) => a.findings.map((f) => f.code));
}

test('varchar(255) → text keeps the storage: pre-deploy, no rewrite, no finding', (t) => {
  const [a] = classify('ALTER TABLE users ALTER COLUMN name TYPE text');
  t.is(a.stage, 'pre-deploy');
  t.false(a.rewrites);
  t.deepEqual(codes([a]), []);
});

test('varchar(20) → varchar(32) widens: pre-deploy, no rewrite', (t) => {
  const [a] = classify('ALTER TABLE users ALTER COLUMN code TYPE varchar(32)');
  t.is(a.stage, 'pre-deploy');
  t.false(a.rewrites);
});

test('varchar(20) → varchar(10) narrows: post-deploy, rewrites, with its finding', (t) => {
  const [a] = classify('ALTER TABLE users ALTER COLUMN code TYPE varchar(10)');
  t.is(a.stage, 'post-deploy');
  t.true(a.rewrites);
  t.deepEqual(codes([a]), ['column-type-rewrite']);
});

test('integer → bigint rewrites: post-deploy with its finding', (t) => {
  const [a] = classify('ALTER TABLE users ALTER COLUMN score TYPE bigint');
  t.is(a.stage, 'post-deploy');
  t.true(a.rewrites);
  t.deepEqual(codes([a]), ['column-type-rewrite']);
});

test('knex .alter() to the type the column already has decides nothing', (t) => {
  const analyses = classify(
    'alter table "users" alter column "name" drop default',
    'alter table "users" alter column "name" drop not null',
    'alter table "users" alter column "name" type varchar(255) using ("name"::varchar(255))',
  );
  t.deepEqual(stages(analyses), [null, null, null]);
  t.deepEqual(codes(analyses), []);
  t.false(analyses.some((a) => a.rewrites));
});

test('knex .alter() widening a NOT NULL varchar is one pre-deploy change: the NOT NULL dropped and put back is nothing', (t) => {
  const analyses = classify(
    'alter table "users" alter column "email" drop default',
    'alter table "users" alter column "email" drop not null',
    'alter table "users" alter column "email" type varchar(500) using ("email"::varchar(500))',
    'alter table "users" alter column "email" set not null',
  );
  t.deepEqual(stages(analyses), [null, null, 'pre-deploy', null]);
  t.deepEqual(codes(analyses), []);
  // PostgreSQL still scans the table for the SET NOT NULL that follows the DROP NOT NULL.
  t.true(analyses[3].scans);
});

test('knex .alter() making a nullable column NOT NULL is post-deploy with the scan finding', (t) => {
  const analyses = classify(
    'alter table "users" alter column "name" drop default',
    'alter table "users" alter column "name" drop not null',
    'alter table "users" alter column "name" type varchar(255) using ("name"::varchar(255))',
    'alter table "users" alter column "name" set not null',
  );
  t.deepEqual(stages(analyses), [null, null, null, 'post-deploy']);
  t.deepEqual(codes(analyses), ['set-not-null-scan']);
});

test('knex .alter() making a NOT NULL column nullable is pre-deploy', (t) => {
  const analyses = classify(
    'alter table "users" alter column "email" drop default',
    'alter table "users" alter column "email" drop not null',
    'alter table "users" alter column "email" type varchar(255) using ("email"::varchar(255))',
  );
  t.deepEqual(stages(analyses), [null, 'pre-deploy', null]);
});

test('knex .alter() dropping a default the column has is post-deploy; changing it is pre-deploy', (t) => {
  const dropped = classify('alter table "users" alter column "score" drop default', 'alter table "users" alter column "score" drop not null', 'alter table "users" alter column "score" type integer using ("score"::integer)');
  t.deepEqual(stages(dropped), ['post-deploy', null, null]);
  const changed = classify(
    'alter table "users" alter column "score" drop default',
    'alter table "users" alter column "score" type integer using ("score"::integer)',
    "alter table \"users\" alter column \"score\" set default '1'",
  );
  t.deepEqual(stages(changed), [null, null, 'pre-deploy']);
});

test('SET NOT NULL on a NOT NULL column and DROP NOT NULL on a nullable one change nothing', (t) => {
  t.deepEqual(stages(classify('ALTER TABLE users ALTER COLUMN email SET NOT NULL')), [null]);
  t.deepEqual(codes(classify('ALTER TABLE users ALTER COLUMN email SET NOT NULL')), []);
  t.deepEqual(stages(classify('ALTER TABLE users ALTER COLUMN name DROP NOT NULL')), [null]);
});

test('DROP INDEX names the table it locks', (t) => {
  const [a] = classify('DROP INDEX child_pid');
  t.deepEqual(a.locks, [
    { relation: 'child', mode: 'ACCESS EXCLUSIVE' },
    { relation: 'child_pid', mode: 'ACCESS EXCLUSIVE' },
  ]);
  const [c] = classify('DROP INDEX CONCURRENTLY public.child_pid');
  t.deepEqual(c.locks.map((l) => l.relation), ['public.child', 'public.child_pid']);
});

test('dropping a foreign key locks the referenced table too', (t) => {
  const [a] = classify('ALTER TABLE child DROP CONSTRAINT child_parent_fk');
  t.deepEqual(a.locks, [
    { relation: 'child', mode: 'ACCESS EXCLUSIVE' },
    { relation: 'parent', mode: 'ACCESS EXCLUSIVE' },
  ]);
});

test('dropping a table with a foreign key locks the table it references; CASCADE also the referencing ones', (t) => {
  const [a] = classify('DROP TABLE other');
  t.deepEqual(a.locks.map((l) => l.relation), ['other', 'child']);
  const [b] = classify('DROP TABLE child CASCADE');
  t.deepEqual(a.locks.every((l) => l.mode === 'ACCESS EXCLUSIVE'), true);
  t.deepEqual(b.locks.map((l) => l.relation), ['child', 'parent', 'other']);
});

test('a type change of a foreign key column locks the referenced table', (t) => {
  const [a] = classify('ALTER TABLE child ALTER COLUMN parent_id TYPE bigint');
  t.deepEqual(a.locks.map((l) => l.relation), ['child', 'parent']);
});

test('what a statement does is known to the statements after it: a table created then altered, a column renamed then retyped', (t) => {
  const analyses = classify(
    'CREATE TABLE items (id serial PRIMARY KEY, label varchar(20))',
    'ALTER TABLE users RENAME COLUMN code TO ref',
    'ALTER TABLE users ALTER COLUMN ref TYPE varchar(40)',
  );
  t.is(analyses[2].stage, 'pre-deploy');
  t.false(analyses[2].rewrites);
});
