import test from 'ava';
import knexFactory from 'knex';
import { ConfigError } from '../../../src/errors.js';
import { buildStatement, expressionSql, parser, typeSql, valueSql } from '../../../src/operations/sql.js';
import { checkExpression, passThroughView, sameExpression, sameForeignKey, sameIndex, sameUnique } from '../../../src/operations/ownership.js';

const knex = knexFactory({ client: 'pg' });

test('a type runs as the parser renders it', async (t) => {
  const rendered = async (type: string) => (await typeSql(type)).sql;
  t.is(await rendered('varchar(255)'), 'varchar(255)');
  t.is(await rendered('character varying(255)'), 'varchar(255)');
  t.is(await rendered('integer'), 'int');
  t.is(await rendered('numeric(10,2)'), 'numeric(10, 2)');
  t.is(await rendered('timestamp with time zone'), 'timestamp with time zone');
  t.is(await rendered('double precision'), 'double precision');
  t.is(await rendered('text[]'), 'text[]');
  t.is(await rendered('char'), 'char(1)');
  t.is(await rendered('"char"'), '"char"');
  t.is(await rendered('bit varying(3)'), 'pg_catalog.varbit(3)');
  t.is(await rendered('public.citext'), 'public.citext');
  t.is(await rendered('"My""Type"'), '"My""Type"');
  t.is((await typeSql(knex.raw('jsonb'))).sql, 'jsonb');
});

test('an expression runs as the parser renders it; a value is a literal', async (t) => {
  const rendered = async (expression: string) => (await expressionSql(expression, 'where')).sql;
  t.is(await rendered('"x" IS NULL'), 'x IS NULL');
  t.is(await rendered('"X" IS NULL'), '"X" IS NULL');
  t.is(await rendered(`data ? 'k'`), `data ? 'k'`);
  t.is(await rendered(`url = 'https://example.com/?utm=1'`), `url = 'https://example.com/?utm=1'`);
  t.is(await rendered(`(a > 1) and b`), 'a > 1 AND b');
  t.is(await rendered(`'a\\b'`), `E'a\\\\b'`);
  t.is(await rendered('x in (1,2)'), 'x IN (1, 2)');
  t.is(await rendered('CASE WHEN a THEN 1 ELSE 2 END'), 'CASE WHEN a THEN 1 ELSE 2 END');
  t.deepEqual((await expressionSql('lower(a) = now()::text')).functions, ['lower', 'now']);
  t.is(await valueSql(`it's ?`), `E'it''s ?'`);
  const raw = await valueSql(knex.raw('?', ['a?b']));
  t.is(typeof raw === 'string' ? raw : raw.sql, `'a?b'`);
});

test('what is not exactly one type or one expression is refused with the reason', async (t) => {
  const refused = async (run: () => Promise<unknown>, message: string) => {
    const error = await t.throwsAsync(run(), { instanceOf: ConfigError });
    t.is(error.message, message);
  };
  await refused(() => typeSql('text --'), 'The type "text --" contains a comment ("--"): a SQL parameter must be exactly one type name, without comments.');
  await refused(() => typeSql('text /* x */'), 'The type "text /* x */" contains a comment ("/* x */"): a SQL parameter must be exactly one type name, without comments.');
  await refused(() => typeSql('int; DROP TABLE t'), 'The type "int; DROP TABLE t" contains a semicolon: a SQL parameter must be exactly one type name, not several statements.');
  await refused(() => typeSql('int x'), 'The type "int x" must be exactly one SQL type name, not several, and without other clauses.');
  await refused(() => typeSql('int + 1'), 'The type "int + 1" must be exactly one SQL type name.');
  await refused(() => typeSql('setof int'), 'The type "setof int" must be a plain type name (no SETOF, no %TYPE).');
  await refused(() => typeSql(''), 'The type must be a non-empty string of SQL or knex.raw(...); got "".');
  await refused(() => typeSql('int\0; DROP TABLE t'), 'The type "int\\u0000; DROP TABLE t" contains a NUL byte.');
  await refused(
    () => expressionSql(knex.raw(`x = '?' AND y = ?`, [1]), 'where'),
    `The where knex.raw("x = '?' AND y = ?") cannot be rendered by knex: Expected 1 bindings, saw 2 (write a ? that is not a binding as \\?).`,
  );
  await refused(() => expressionSql('x) OR (y', 'where'), 'The where "x) OR (y" is not valid SQL: syntax error at or near ")".');
  await refused(() => expressionSql('x;', 'where'), 'The where "x;" contains a semicolon: a SQL parameter must be exactly one expression, not several statements.');
  await refused(() => expressionSql('x, y', 'where'), 'The where "x, y" must be exactly one SQL expression, not several, and without other clauses.');
  await refused(() => expressionSql('x FROM t', 'where'), 'The where "x FROM t" must be exactly one SQL expression, not several, and without other clauses.');
  await refused(() => expressionSql('*', 'where'), 'The where "*" must be an expression, not *.');
  await refused(() => expressionSql('x ORDER BY 1', 'where'), 'The where "x ORDER BY 1" must be exactly one SQL expression, not several, and without other clauses.');
  await refused(() => expressionSql('x = $1', 'where'), 'The where "x = $1" contains a parameter ($n): write the value itself, as a literal; $n belongs to the statement around it.');
  await refused(
    () => expressionSql('EXISTS (SELECT 1 FROM t FOR UPDATE)', 'where'),
    'The where "EXISTS (SELECT 1 FROM t FOR UPDATE)" contains SELECT … INTO or FOR UPDATE/SHARE; an expression may only read.',
  );
  await refused(
    () => expressionSql('(WITH d AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1)', 'where'),
    'The where "(WITH d AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1)" contains a statement that writes (INSERT, UPDATE, DELETE or MERGE); an expression may only read.',
  );
});

test('a statement is refused when the fragment does not stay in its place', async (t) => {
  const where = await expressionSql('a OR b', 'where');
  t.is(buildStatement(['"t"', where], ([table, w]) => `SELECT 1 FROM ${table} WHERE x AND ${w}`), 'SELECT 1 FROM "t" WHERE x AND (a OR b)');
  // A rendering that does not stand for its tree (as a deparser bug would give): the statement
  // would mean (x AND a) OR b, so it is refused.
  const wrong = { ...where, sql: 'a) OR (b' };
  const error = t.throws(() => buildStatement([wrong], ([w]) => `SELECT 1 WHERE x AND ${w}`), { instanceOf: ConfigError });
  t.is(
    error.message,
    'The statement built with the where "a OR b" does not parse as the statement around it with that SQL in its place; refusing to run it:\n  SELECT 1 WHERE x AND (a) OR (b)',
  );
  const type = await typeSql('varchar(3)');
  t.is(buildStatement([type], ([ty]) => `ALTER TABLE t ADD COLUMN c ${ty}`), 'ALTER TABLE t ADD COLUMN c varchar(3)');
});

test('definitions from the catalog are compared with what an operation creates', async (t) => {
  await parser();
  const node = async (e: string) => (await expressionSql(e)).node;
  t.true(sameExpression(checkExpression('CHECK ((balance IS NOT NULL))'), await node('"balance" IS NOT NULL')));
  t.false(sameExpression(checkExpression('CHECK ((balance >= 0))'), await node('"balance" IS NOT NULL')));
  t.true(sameExpression(checkExpression(`CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))) NOT VALID`), await node(`status IN ('a', 'b')`)));
  t.true(sameExpression(checkExpression(`CHECK (((total >= 0) AND (total <= 10)))`), await node('total BETWEEN 0 AND 10')));
  t.true(sameExpression(checkExpression(`CHECK ((total > '-1'::integer))`), await node('total > -1')));
  t.true(sameIndex('CREATE INDEX t_x ON public.t USING btree (x, lower((y)::text)) WHERE (x > 0)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ("x", (lower(y))) WHERE (x > 0)'));
  t.false(sameIndex('CREATE INDEX t_x ON public.t USING btree (x) WHERE (x > 0)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ("x")'));
  t.true(sameIndex('CREATE INDEX t_x ON public.t USING btree (x)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ((x))'));
  t.false(sameIndex('CREATE UNIQUE INDEX t_x ON public.t USING btree (x)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ("x")'));
  t.false(sameIndex('CREATE INDEX t_x ON public.t USING gin (x)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ("x")'));
  t.false(sameIndex('CREATE INDEX t_x ON public.t USING btree (x) INCLUDE (y)', 'CREATE INDEX CONCURRENTLY "t_x" ON "public"."t" ("x")'));
  t.true(sameUnique('UNIQUE (email)', ['email']));
  t.false(sameUnique('UNIQUE (code)', ['email']));
  t.true(sameForeignKey('FOREIGN KEY (c_id) REFERENCES c(id) ON DELETE CASCADE NOT VALID', 'FOREIGN KEY ("c_id") REFERENCES "public"."c" ("id") ON DELETE CASCADE'));
  t.false(sameForeignKey('FOREIGN KEY (c_id) REFERENCES c(id)', 'FOREIGN KEY ("c_id") REFERENCES "public"."c" ("id") ON DELETE CASCADE'));
  t.deepEqual(passThroughView(' SELECT t.id,\n    t.amount AS total\n   FROM t;'), { from: 't', columns: [['id', 'id'], ['total', 'amount']] });
  t.is(passThroughView(' SELECT t.id, 1 AS one FROM t;'), null);
  t.is(passThroughView(' SELECT t.id FROM t WHERE (t.id > 1);'), null);
});
