import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase } from '../../helpers/db.js';
import {
  revertSaferRenameColumnPart1,
  revertSaferRenameTablePart1,
  saferRenameColumnPart1,
  saferRenameColumnPart2,
  saferRenameTablePart1,
  saferRenameTablePart2,
} from '../../../src/operations/index.js';

/** What an app does with a table: read, insert (relying on the id default), update, delete. */
async function crud(t: ExecutionContext, knex: Knex, table: string, column: string, label: string): Promise<void> {
  const [inserted] = await knex(table).insert({ [column]: `${label} new` }).returning(['id', column]);
  t.truthy(inserted.id, `${label}: insert gets an id from the table's default`);
  t.is(inserted[column], `${label} new`);
  t.is(await knex(table).where({ id: inserted.id }).update({ [column]: `${label} changed` }), 1, `${label}: update`);
  const row = await knex(table).where({ id: inserted.id }).first();
  t.is(row[column], `${label} changed`, `${label}: read`);
  t.is(await knex(table).where({ id: inserted.id }).delete(), 1, `${label}: delete`);
}

test('table rename: old and new code both work between Part 1 and Part 2; reruns are no-ops; revert restores', async (t) => {
  const db = await createTestDatabase('zdren');
  try {
    const { knex } = db;
    await knex.raw("CREATE TABLE orders (id serial PRIMARY KEY, label text NOT NULL); INSERT INTO orders (label) VALUES ('a'), ('b')");
    await saferRenameTablePart1(knex, 'orders', 'purchases');
    t.is((await saferRenameTablePart1(knex, 'orders', 'purchases')).steps.length, 0);
    await crud(t, knex, 'orders', 'label', 'old code');
    await crud(t, knex, 'purchases', 'label', 'new code');
    t.is((await knex('orders').count({ n: '*' }))[0].n, '2');
    await saferRenameTablePart2(knex, 'orders', 'purchases');
    t.is((await saferRenameTablePart2(knex, 'orders', 'purchases')).steps.length, 0);
    t.false(await knex.schema.hasTable('orders'));
    await crud(t, knex, 'purchases', 'label', 'after part 2');

    await knex.raw("CREATE TABLE carts (id serial PRIMARY KEY, label text)");
    await saferRenameTablePart1(knex, 'carts', 'baskets');
    await revertSaferRenameTablePart1(knex, 'carts', 'baskets');
    const kinds = await knex.raw<{ rows: { relname: string; relkind: string }[] }>("SELECT relname, relkind FROM pg_class WHERE relname IN ('carts', 'baskets')");
    t.deepEqual(kinds.rows, [{ relname: 'carts', relkind: 'r' }]);
  } finally {
    await db.drop();
  }
});

test('column rename: old and new code both work between Part 1 and Part 2, through the same table name', async (t) => {
  const db = await createTestDatabase('zdren');
  try {
    const { knex } = db;
    await knex.raw("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE); INSERT INTO users (name, email) VALUES ('Ann', 'ann@x')");
    await knex.raw('CREATE INDEX users_name_index ON users (name)');
    await saferRenameColumnPart1(knex, 'users', 'name', 'full_name');
    t.is((await saferRenameColumnPart1(knex, 'users', 'name', 'full_name')).steps.length, 0);
    await crud(t, knex, 'users', 'name', 'old code');
    await crud(t, knex, 'users', 'full_name', 'new code');
    // A row written by the old code reads under the new name, and the other way round.
    await knex('users').insert({ name: 'Bob', email: 'bob@x' });
    t.is((await knex('users').where({ email: 'bob@x' }).first()).full_name, 'Bob');
    await knex('users').where({ email: 'bob@x' }).update({ full_name: 'Robert' });
    t.is((await knex('users').where({ full_name: 'Robert' }).first()).name, 'Robert');
    // Unique constraints and NOT NULL still hold through the view.
    await t.throwsAsync(knex('users').insert({ full_name: 'Dup', email: 'ann@x' }), { message: /duplicate key/ });
    await t.throwsAsync(knex('users').insert({ email: 'nobody@x' }), { message: /null value/ });

    await saferRenameColumnPart2(knex, 'users', 'name', 'full_name');
    t.is((await saferRenameColumnPart2(knex, 'users', 'name', 'full_name')).steps.length, 0);
    t.true(await knex.schema.hasColumn('users', 'full_name'));
    t.false(await knex.schema.hasColumn('users', 'name'));
    await crud(t, knex, 'users', 'full_name', 'after part 2');
    const index = await knex.raw<{ rows: { indexdef: string }[] }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_name_index'");
    t.regex(index.rows[0].indexdef, /ON public\.users USING btree \(full_name\)/, 'the index followed the column');

    await knex.raw('CREATE TABLE posts (id serial PRIMARY KEY, body text)');
    await saferRenameColumnPart1(knex, 'posts', 'body', 'content');
    await revertSaferRenameColumnPart1(knex, 'posts', 'body', 'content');
    t.true(await knex.schema.hasColumn('posts', 'body'));
    t.deepEqual((await knex.raw("SELECT relkind FROM pg_class WHERE relname = 'posts'")).rows, [{ relkind: 'r' }]);
  } finally {
    await db.drop();
  }
});
