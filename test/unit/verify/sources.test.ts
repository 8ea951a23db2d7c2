import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadParser } from '../../../src/analysis/parser.js';
import { ConfigError } from '../../../src/errors.js';
import { jsonlStatements, parseSourceSpec, readQueryFile, sqlFileStatements } from '../../../src/verify/query-source.js';
import { statementsOf } from '../../../src/verify/statements.js';

test.before(async () => {
  await loadParser();
});

const brief = (s: { sql: string; origin: string; status: string; command: string }) => ({ sql: s.sql, origin: s.origin, status: s.status, command: s.command });

test('a .sql file is split at semicolons by the scanner (not inside strings, comments or dollar quotes), each statement with its line', async (t) => {
  const text = [
    '-- the orders page',
    'select id, note from orders',
    "where note <> 'a;",
    "b' and id = $1;",
    '',
    'insert into orders (note) values ($1) /* ; */ returning id;',
    'select $$x;',
    '$$ as body;',
    'update orders set note = $1 where id = $2',
  ].join('\n');
  const statements = await sqlFileStatements(text, 'q.sql');
  t.deepEqual(statements.map(brief), [
    { sql: "select id, note from orders\nwhere note <> 'a;\nb' and id = $1", origin: 'q.sql:2', status: 'checkable', command: 'SELECT' },
    { sql: 'insert into orders (note) values ($1) /* ; */ returning id', origin: 'q.sql:6', status: 'checkable', command: 'INSERT' },
    { sql: 'select $$x;\n$$ as body', origin: 'q.sql:7', status: 'checkable', command: 'SELECT' },
    { sql: 'update orders set note = $1 where id = $2', origin: 'q.sql:9', status: 'checkable', command: 'UPDATE' },
  ]);
});

test('a statement with a syntax error is kept as one, with its line; statements PREPARE cannot take are not checked', async (t) => {
  const statements = await sqlFileStatements('select 1;\nselec * from orders;\nBEGIN;\nSET search_path TO app;\nselect * into copy from orders;\ndelete from orders where id = $1;', 'q.sql');
  t.deepEqual(
    statements.map((s) => [s.origin, s.status, s.command, s.problem]),
    [
      ['q.sql:1', 'checkable', 'SELECT', null],
      ['q.sql:2', 'syntax-error', 'SELEC', 'syntax error at or near "selec"'],
      ['q.sql:3', 'not-checked', 'BEGIN', 'PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE'],
      ['q.sql:4', 'not-checked', 'SET', 'PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE'],
      ['q.sql:5', 'not-checked', 'SELECT INTO', 'SELECT INTO creates a table: PREPARE does not take it'],
      ['q.sql:6', 'checkable', 'DELETE', null],
    ],
  );
});

test('a .sql file that cannot be split (an unterminated string) is bad input named with its line', async (t) => {
  const error = await t.throwsAsync(sqlFileStatements("select 1;\nselect 2;\nselect 'oops from orders;\nselect 3;", 'q.sql'), { instanceOf: ConfigError });
  t.is(error.message, 'q.sql:3: unterminated quoted string at or near "\'oops from orders; select 3;". The file cannot be split into statements; nothing was checked.');
});

test('a .jsonl recording: one statement per line (several when a line holds several), a truncation note, bad lines named', async (t) => {
  const text = [
    JSON.stringify({ sql: 'select * from orders where id = $1', bindings: [1] }),
    '',
    JSON.stringify({ sql: 'select 1; select 2' }),
    JSON.stringify({ truncated: 'the recording stopped at maxQueries (2): later distinct queries were not recorded' }),
  ].join('\n');
  const { statements, notes } = await jsonlStatements(text, 'r.jsonl');
  t.deepEqual(statements.map((s) => [s.origin, s.sql]), [
    ['r.jsonl:1', 'select * from orders where id = $1'],
    ['r.jsonl:3', 'select 1'],
    ['r.jsonl:3', 'select 2'],
  ]);
  t.deepEqual(notes, ['r.jsonl:4: the recording stopped at maxQueries (2): later distinct queries were not recorded']);

  const notJson = await t.throwsAsync(jsonlStatements('{"sql":"select 1"}\n{"sql": select 2}', 'r.jsonl'), { instanceOf: ConfigError });
  t.regex(notJson.message, /^r\.jsonl:2: not a JSON line \(.+\)\. Each line is \{ "sql": "\.\.\.", "bindings": \[\.\.\.\] \}, as recordQueries writes it; nothing was checked\.$/);
  const noSql = await t.throwsAsync(jsonlStatements('{"query":"select 1"}', 'r.jsonl'), { instanceOf: ConfigError });
  t.is(noSql.message, 'r.jsonl:1: a line must be an object with a non-empty "sql" string, as recordQueries writes it; nothing was checked.');
  const badBindings = await t.throwsAsync(jsonlStatements('{"sql":"select 1","bindings":1}', 'r.jsonl'), { instanceOf: ConfigError });
  t.is(badBindings.message, 'r.jsonl:1: "bindings" must be an array when present; nothing was checked.');
});

test('a SOURCE is a .sql or .jsonl file or pg_stat_statements; anything else is bad input', (t) => {
  t.deepEqual(parseSourceSpec('pg_stat_statements', '--old-queries'), { kind: 'pg_stat_statements', given: 'pg_stat_statements' });
  t.deepEqual(parseSourceSpec('q.SQL', '--old-queries', '/app'), { kind: 'sql', path: '/app/q.SQL', given: 'q.SQL' });
  t.deepEqual(parseSourceSpec('rec/q.jsonl', '--new-queries', '/app'), { kind: 'jsonl', path: '/app/rec/q.jsonl', given: 'rec/q.jsonl' });
  const error = t.throws(() => parseSourceSpec('queries.txt', '--old-queries'), { instanceOf: ConfigError });
  t.is(error.message, '--old-queries "queries.txt": a SOURCE is a .sql file (statements separated by ;), a .jsonl file (written by recordQueries), or the word pg_stat_statements.');
});

test('a missing file is bad input; the same statement twice is checked once', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zd-verify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = await t.throwsAsync(readQueryFile({ kind: 'sql', path: path.join(dir, 'none.sql'), given: 'none.sql' }, '--old-queries'), { instanceOf: ConfigError });
  t.is(missing.message, `--old-queries none.sql: no such file (looked for ${path.join(dir, 'none.sql')}).`);
  await writeFile(path.join(dir, 'q.sql'), 'select 1;\nselect 1;\nselect 2;\n');
  const set = await readQueryFile({ kind: 'sql', path: path.join(dir, 'q.sql'), given: 'q.sql' }, '--old-queries');
  t.deepEqual(set.statements.map((s) => [s.origin, s.sql]), [['q.sql:1', 'select 1'], ['q.sql:3', 'select 2']]);
});

test('what an INSERT gives each column is read from its parse tree, in WITH clauses too', (t) => {
  const [values] = statementsOf("insert into app.orders (a, b, c) values ($1, default, 'x'), (null, $2, $3) returning id", 'x');
  t.deepEqual(values.inserts, [{ schema: 'app', table: 'orders', columns: ['a', 'b', 'c'], given: ['null', 'default', 'value'] }]);
  const [positional] = statementsOf('insert into orders values ($1, $2)', 'x');
  t.deepEqual(positional.inserts, [{ schema: null, table: 'orders', columns: null, given: ['value', 'value'] }]);
  const [defaults] = statementsOf('insert into orders default values', 'x');
  t.deepEqual(defaults.inserts, [{ schema: null, table: 'orders', columns: null, given: [] }]);
  const [fromSelect] = statementsOf('insert into orders select * from old_orders', 'x');
  t.deepEqual(fromSelect.inserts, [{ schema: null, table: 'orders', columns: null, given: null }]);
  const [cte] = statementsOf('with n as (insert into audit (note) values ($1) returning id) select * from n', 'x');
  t.deepEqual(cte.inserts, [{ schema: null, table: 'audit', columns: ['note'], given: ['value'] }]);
  const [select] = statementsOf('select 1', 'x');
  t.deepEqual(select.inserts, []);
});
