import test from 'ava';
import { loadParser } from '../../../src/analysis/parser.js';
import { findNotNullViolation, type RelationFacts } from '../../../src/verify/insert-columns.js';
import { viewColumnsOf } from '../../../src/verify/relation-facts.js';
import { statementsOf } from '../../../src/verify/statements.js';

test.before(async () => {
  await loadParser();
});

function table(name: string, columns: Array<[string, boolean, boolean]>, extra: Partial<RelationFacts> = {}): RelationFacts {
  return {
    oid: 1,
    schema: 'public',
    name,
    kind: 'r',
    columns: columns.map(([column, notNull, filled]) => ({ name: column, notNull, filled })),
    notNullChecks: [],
    viewColumns: null,
    viewBase: null,
    instead: false,
    ...extra,
  };
}

// id serial, name NOT NULL, note nullable, tenant NOT NULL without a default, created NOT NULL with a default
const users = table('users', [
  ['id', true, true],
  ['name', true, false],
  ['note', false, false],
  ['tenant', true, false],
  ['created', true, true],
]);

async function violation(sql: string, relation: RelationFacts = users, others: RelationFacts[] = []) {
  const [statement] = statementsOf(sql, 'x');
  return findNotNullViolation(statement.inserts[0], relation, (oid) => Promise.resolve(others.find((r) => r.oid === oid) ?? null));
}

test('an INSERT that leaves out a NOT NULL column without a default would fail, as PostgreSQL says it', async (t) => {
  t.deepEqual(await violation('insert into users (name, note) values ($1, $2)'), {
    sqlState: '23502',
    message: 'null value in column "tenant" of relation "users" violates not-null constraint',
    detail: 'the INSERT gives no value for "tenant", and "tenant" is NOT NULL without a default',
  });
  t.is(await violation('insert into users (name, tenant) values ($1, $2)'), null);
  t.is(await violation('insert into users (name, tenant) select name, 1 from people'), null);
});

test('DEFAULT and a literal NULL count; positional values fill the first columns', async (t) => {
  t.is((await violation('insert into users (name, tenant) values ($1, default)'))?.detail, 'the INSERT gives no value for "tenant", and "tenant" is NOT NULL without a default');
  t.is((await violation('insert into users (name, tenant) values ($1, 1), ($2, null)'))?.detail, 'the INSERT gives NULL for "tenant", and "tenant" is NOT NULL');
  t.is((await violation('insert into users (name, tenant, created) values ($1, 1, null)'))?.message, 'null value in column "created" of relation "users" violates not-null constraint');
  t.is(await violation('insert into users values (default, $1, $2, $3)'), null);
  t.is((await violation('insert into users values (default, $1, $2)'))?.message, 'null value in column "tenant" of relation "users" violates not-null constraint');
  t.is((await violation('insert into users default values'))?.message, 'null value in column "name" of relation "users" violates not-null constraint');
  t.is(await violation('insert into users select * from other_users'), null);
});

test('a CHECK (c IS NOT NULL) constraint, NOT VALID or not, counts like NOT NULL', async (t) => {
  const purchases = table('purchases', [['id', true, true], ['amount', true, false], ['currency', false, false]], { notNullChecks: [{ name: 'purchases_currency_not_null', column: 'currency' }] });
  t.deepEqual(await violation('insert into purchases (amount) values ($1)', purchases), {
    sqlState: '23514',
    message: 'new row for relation "purchases" violates check constraint "purchases_currency_not_null"',
    detail: 'the INSERT gives no value for "currency", and the constraint "purchases_currency_not_null" is CHECK ("currency" IS NOT NULL)',
  });
  t.is(await violation('insert into purchases (amount, currency) values ($1, $2)', purchases), null);
});

test('an INSERT through a simple view reaches the table: columns outside the view get the table defaults, view defaults fill', async (t) => {
  const purchases = table('purchases', [['id', true, true], ['amount', true, false], ['currency', true, false]], { oid: 7 });
  const view = (filled: boolean): RelationFacts =>
    table('orders', [['id', false, false], ['total', false, filled]], { oid: 8, kind: 'v', viewColumns: ['id', 'amount'], viewBase: 7 });
  t.deepEqual(await violation('insert into orders (total) values ($1)', view(false), [purchases]), {
    sqlState: '23502',
    message: 'null value in column "currency" of relation "purchases" violates not-null constraint',
    detail: 'the INSERT gives no value for "currency" (through the view "public.orders"), and "currency" is NOT NULL without a default',
  });
  t.is((await violation('insert into orders (id) values ($1)', view(false), [purchases]))?.message, 'null value in column "amount" of relation "purchases" violates not-null constraint');
  t.is((await violation('insert into orders (id) values ($1)', view(true), [purchases]))?.message, 'null value in column "currency" of relation "purchases" violates not-null constraint');
  t.is(await violation('insert into orders (id) values ($1)', { ...view(false), instead: true }, [purchases]), null, 'INSTEAD OF triggers decide: nothing can be told');
});

test('the columns of a simple view are read from its definition', (t) => {
  t.deepEqual(viewColumnsOf(' SELECT t.id,\n    t.a,\n    t.b AS c,\n    t.a + 1 AS d\n   FROM t;'), ['id', 'a', 'b', null]);
  t.is(viewColumnsOf('SELECT t.id FROM t JOIN u ON u.id = t.id'), null);
  t.is(viewColumnsOf('SELECT t.id FROM t UNION SELECT u.id FROM u'), null);
});
