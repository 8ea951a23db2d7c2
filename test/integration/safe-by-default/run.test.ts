/**
 * `safeByDefault` on plain-knex migrations (t.index, t.foreign, t.unique, .notNullable().alter(),
 * t.primary, raw CREATE INDEX and ADD CONSTRAINT … CHECK) on tables in use: each refused statement
 * runs in its safe form; what the driver sends is the plan, byte for byte; the catalog ends with
 * valid indexes and validated constraints; and a writer is not blocked by an index build that
 * plain knex would run under a SHARE lock.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase } from '../../helpers/db.js';
import { createStagedMigrator } from '../../../src/migrator/staged-migrator.js';
import { sendVerbatim } from '../../../src/runner/verbatim.js';
import { waitUntil } from '../migrator/support/cli-process.js';
import { actions, migrationsFolder, migratorKnex, recordDriver, seedUsers, session, UNSAFE_MIGRATIONS } from './support.js';

const SETTINGS = { safeByDefault: true, checks: { smallTable: 0 } };

async function catalog(knex: Knex) {
  const constraints = await knex.raw(`SELECT conrelid::regclass::text AS t, conname, contype, convalidated FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'tags'::regclass) ORDER BY 1, 2`);
  const indexes = await knex.raw(`SELECT indexrelid::regclass::text AS i, indisvalid FROM pg_index WHERE indrelid IN ('users'::regclass, 'tags'::regclass) ORDER BY 1`);
  const columns = await knex.raw(`SELECT attrelid::regclass::text AS t, attname, attnotnull FROM pg_attribute WHERE attrelid IN ('users'::regclass, 'tags'::regclass) AND attnum > 0 AND NOT attisdropped AND attname IN ('name', 'id') ORDER BY 1, 2`);
  return { constraints: constraints.rows, indexes: indexes.rows, columns: columns.rows };
}

for (const shadow of [false, 'auto'] as const) {
  test.serial(`plain-knex migrations run in their safe form; the driver sends the plan byte for byte (${shadow ? 'shadow' : 'capture'} analysis)`, async (t) => {
    const db = await createTestDatabase('safe');
    const folder = await migrationsFolder(UNSAFE_MIGRATIONS);
    const knex = migratorKnex(db.url, folder.dir, { ...SETTINGS, shadow });
    const driver = recordDriver();
    t.teardown(async () => {
      driver.stop();
      await knex.destroy();
      await db.drop();
      await folder.remove();
    });
    await seedUsers(db.knex);
    const migrator = createStagedMigrator(knex);
    const plan = await migrator.planLatest();
    t.is(plan.analysis.mode, shadow ? 'shadow' : 'capture');
    t.deepEqual(plan.checks.findings.filter((f) => f.severity !== 'info').map((f) => f.code), ['foreign-key-without-index']);
    const notes = plan.checks.findings.filter((f) => f.safeForm).map((f) => [f.migration, f.code]);
    t.deepEqual(notes, [
      ['001_index.js', 'create-index-blocking'],
      ['001_index.js', 'create-index-blocking'],
      ['002_foreign.js', 'foreign-key-validating'],
      ['003_unique.js', 'unique-constraint-blocking'],
      ['004_not_null.js', 'set-not-null-scan'],
      ['005_check.js', 'check-constraint-validating'],
      ['006_primary.js', 'unique-constraint-blocking'],
    ]);
    for (const m of plan.migrations) {
      t.false(m.transaction, `${m.name} runs outside a transaction`);
      t.truthy(m.safeForms?.length, `${m.name} has a safe form`);
    }
    const planned = plan.migrations.flatMap((m) => m.statements.map((s) => s.sql));
    t.deepEqual(
      planned.filter((sql) => /CONCURRENTLY|NOT VALID|VALIDATE|USING INDEX|SET NOT NULL|DROP CONSTRAINT/.test(sql)),
      [
        'CREATE INDEX CONCURRENTLY users_c_index ON public.users (c)',
        'CREATE INDEX CONCURRENTLY users_lower_email ON public.users ((lower(email)))',
        'ALTER TABLE public.users ADD CONSTRAINT users_org_id_foreign FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID',
        'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "users_org_id_foreign"',
        'CREATE UNIQUE INDEX CONCURRENTLY users_email_unique ON public.users (email)',
        'ALTER TABLE "public"."users" ADD CONSTRAINT "users_email_unique" UNIQUE USING INDEX "users_email_unique"',
        'ALTER TABLE "public"."users" ADD CONSTRAINT "users_name_not_null" CHECK ("name" IS NOT NULL) NOT VALID',
        'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "users_name_not_null"',
        'ALTER TABLE "public"."users" ALTER COLUMN "name" SET NOT NULL',
        'ALTER TABLE "public"."users" DROP CONSTRAINT "users_name_not_null"',
        'ALTER TABLE public.users ADD CONSTRAINT users_c_positive CHECK (c > 0) NOT VALID',
        'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "users_c_positive"',
        'ALTER TABLE "public"."tags" ADD CONSTRAINT "tags_id_not_null" CHECK ("id" IS NOT NULL) NOT VALID',
        'ALTER TABLE "public"."tags" VALIDATE CONSTRAINT "tags_id_not_null"',
        'ALTER TABLE "public"."tags" ALTER COLUMN "id" SET NOT NULL',
        'ALTER TABLE "public"."tags" DROP CONSTRAINT "tags_id_not_null"',
        'CREATE UNIQUE INDEX CONCURRENTLY tags_pkey ON public.tags (id)',
        'ALTER TABLE "public"."tags" ADD CONSTRAINT "tags_pkey" PRIMARY KEY USING INDEX "tags_pkey"',
      ],
    );
    // Not one of the statements as written is in the plan.
    const written = [
      'create index "users_c_index" on "users" ("c")',
      'CREATE INDEX users_lower_email ON users (lower(email))',
      'alter table "users" add constraint "users_org_id_foreign" foreign key ("org_id") references "orgs" ("id")',
      'alter table "users" add constraint "users_email_unique" unique ("email")',
      'alter table "users" alter column "name" set not null',
      'ALTER TABLE users ADD CONSTRAINT users_c_positive CHECK (c > 0)',
      'alter table "tags" add constraint "tags_pkey" primary key ("id")',
    ];
    t.deepEqual(plan.migrations.flatMap((m) => (m.safeForms ?? []).map((d) => d.sql)), written);
    t.false(planned.some((sql) => written.includes(sql)));

    driver.start();
    await migrator.latest({ plan });
    driver.stop();
    t.deepEqual(actions(driver.sent), planned, 'the server receives the planned statements, byte for byte, and nothing else');
    t.deepEqual(await catalog(db.knex), {
      constraints: [
        { t: 'tags', conname: 'tags_pkey', contype: 'p', convalidated: true },
        { t: 'users', conname: 'users_c_positive', contype: 'c', convalidated: true },
        { t: 'users', conname: 'users_email_unique', contype: 'u', convalidated: true },
        { t: 'users', conname: 'users_org_id_foreign', contype: 'f', convalidated: true },
        { t: 'users', conname: 'users_pkey', contype: 'p', convalidated: true },
      ],
      indexes: [
        { i: 'tags_pkey', indisvalid: true },
        { i: 'users_c_index', indisvalid: true },
        { i: 'users_email_unique', indisvalid: true },
        { i: 'users_lower_email', indisvalid: true },
        { i: 'users_pkey', indisvalid: true },
      ],
      columns: [
        { t: 'tags', attname: 'id', attnotnull: true },
        { t: 'users', attname: 'id', attnotnull: true },
        { t: 'users', attname: 'name', attnotnull: true },
      ],
    });
  });
}

test.serial('while the safe form of CREATE INDEX waits for an open write transaction, other writers go on; plain knex queues them behind its SHARE lock', async (t) => {
  const db = await createTestDatabase('safe');
  const folder = await migrationsFolder({ '001_index.js': UNSAFE_MIGRATIONS['001_index.js'] });
  // A long lock_timeout: the build waits for the open transaction instead of retrying.
  const knex = migratorKnex(db.url, folder.dir, { ...SETTINGS, shadow: false, timeouts: { lock: '60s' } });
  const plainKnex = migratorKnex(db.url, folder.dir, {});
  const open = await session(db.url, 'open writer');
  const writer = await session(db.url, 'other writer');
  t.teardown(async () => {
    for (const client of [open, writer]) await client.end().catch(() => undefined);
    await knex.destroy();
    await plainKnex.destroy();
    await db.drop();
    await folder.remove();
  });
  await seedUsers(db.knex);
  // A failsafe only: a writer blocked behind the migration would otherwise wait forever.
  await writer.query(`SET lock_timeout = '20s'`);
  const waiting = (query: string) =>
    waitUntil(`${query} waiting for the open transaction`, async () => {
      const rows = (await db.knex.raw(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock' AND query ILIKE ?`, [query])).rows;
      return rows[0]?.pid as number | undefined;
    });

  await open.query(`BEGIN; INSERT INTO users (email, c, org_id, name) VALUES ('open', 1, 1, 'open')`);
  let settled = false;
  const run = createStagedMigrator(knex).latest().finally(() => (settled = true));
  await waiting('CREATE INDEX CONCURRENTLY users_c_index%');
  await writer.query(`INSERT INTO users (email, c, org_id, name) VALUES ('during the build', 2, 1, 'w')`);
  t.false(settled, 'the writer got through while the build was still waiting');
  await open.query('COMMIT');
  await run;
  const valid = await db.knex.raw(`SELECT indexrelid::regclass::text AS i, indisvalid FROM pg_index WHERE indrelid = 'users'::regclass AND indexrelid::regclass::text <> 'users_pkey' ORDER BY 1`);
  t.deepEqual(valid.rows, [
    { i: 'users_c_index', indisvalid: true },
    { i: 'users_lower_email', indisvalid: true },
  ]);

  // Plain knex, same migration (its index dropped again): the build asks for SHARE, and the next writer queues behind it.
  await db.knex.raw('DROP INDEX users_c_index; DROP INDEX users_lower_email; TRUNCATE knex_migrations');
  await open.query(`BEGIN; INSERT INTO users (email, c, org_id, name) VALUES ('open', 1, 1, 'open')`);
  const plain = plainKnex.migrate.latest();
  const builder = await waiting('create index "users_c_index"%');
  const blocked = writer.query(`INSERT INTO users (email, c, org_id, name) VALUES ('behind the build', 3, 1, 'w')`);
  const behind = await waitUntil('the writer to queue behind the build', async () => {
    const rows = (await db.knex.raw(`SELECT pid FROM pg_stat_activity WHERE ? = ANY (pg_blocking_pids(pid)) AND query ILIKE 'INSERT%behind the build%'`, [builder])).rows;
    return rows.length > 0;
  });
  t.true(behind);
  const lock = await db.knex.raw(`SELECT mode, granted FROM pg_locks WHERE pid = ? AND relation = 'users'::regclass AND NOT granted`, [builder]);
  t.deepEqual(lock.rows, [{ mode: 'ShareLock', granted: false }]);
  await open.query('COMMIT');
  await Promise.all([plain, blocked]);
});

test.serial('a ? in a name: the plan and the run both build the index on the table as named (knex itself would send $n)', async (t) => {
  const db = await createTestDatabase('safe');
  const folder = await migrationsFolder({
    '001_odd.js': `exports.up = (knex) => knex.schema.alterTable('t?', (t) => { t.index(['c?']); });
exports.down = async () => {};
`,
  });
  const knex = migratorKnex(db.url, folder.dir, { ...SETTINGS, shadow: false });
  const driver = recordDriver();
  t.teardown(async () => {
    driver.stop();
    await knex.destroy();
    await db.drop();
    await folder.remove();
  });
  await sendVerbatim(db.knex, 'CREATE TABLE "t?" ("c?" int); INSERT INTO "t?" SELECT g FROM generate_series(1, 10) g');
  const migrator = createStagedMigrator(knex);
  const plan = await migrator.planLatest();
  t.deepEqual(plan.migrations[0].safeForms?.map((d) => d.sql), ['create index "t?_c?_index" on "t?" ("c?")']);
  const planned = plan.migrations[0].statements.map((s) => s.sql);
  t.deepEqual(planned, ['CREATE INDEX CONCURRENTLY "t?_c?_index" ON public."t?" ("c?")']);
  driver.start();
  await migrator.latest({ plan });
  driver.stop();
  t.deepEqual(actions(driver.sent), planned);
  t.deepEqual((await sendVerbatim(db.knex, `SELECT indexrelid::regclass::text AS i, indisvalid FROM pg_index WHERE indrelid = '"t?"'::regclass`)).rows, [{ i: '"t?_c?_index"', indisvalid: true }]);
});

test.serial('a migration that opts out, or declares transaction: true, runs as written and its refusals stay errors', async (t) => {
  const db = await createTestDatabase('safe');
  const index = (config: string) => `exports.config = ${config};
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.index('c'); });
exports.down = async () => {};
`;
  const folder = await migrationsFolder({ '001_out.js': index('{ safeByDefault: false }'), '002_whole.js': index("{ transaction: true, stage: 'pre-deploy' }") });
  const knex = migratorKnex(db.url, folder.dir, { ...SETTINGS, shadow: false });
  t.teardown(async () => {
    await knex.destroy();
    await db.drop();
    await folder.remove();
  });
  await seedUsers(db.knex);
  const plan = await createStagedMigrator(knex).planLatest();
  t.deepEqual(plan.migrations.map((m) => [m.name, m.transaction, m.safeForms]), [
    ['001_out.js', true, undefined],
    ['002_whole.js', true, undefined],
  ]);
  t.deepEqual(plan.checks.findings.filter((f) => f.code === 'create-index-blocking').map((f) => [f.migration, f.severity]), [
    ['001_out.js', 'error'],
    ['002_whole.js', 'error'],
  ]);
});
