import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

/** Plain-knex migrations, each with one statement form that a check refuses on a table in use. */
export const UNSAFE_MIGRATIONS: Readonly<Record<string, string>> = {
  '001_index.js': `exports.up = async (knex) => {
  await knex.schema.alterTable('users', (t) => { t.index('c'); });
  await knex.raw('CREATE INDEX users_lower_email ON users (lower(email))');
};
exports.down = async () => {};
`,
  '002_foreign.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.foreign('org_id').references('orgs.id'); });
exports.down = async () => {};
`,
  '003_unique.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.unique(['email']); });
exports.down = async () => {};
`,
  '004_not_null.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('name').notNullable().alter(); });
exports.down = async () => {};
`,
  '005_check.js': `exports.up = (knex) => knex.raw('ALTER TABLE users ADD CONSTRAINT users_c_positive CHECK (c > 0)');
exports.down = async () => {};
`,
  '006_primary.js': `exports.up = (knex) => knex.schema.alterTable('tags', (t) => { t.primary(['id']); });
exports.down = async () => {};
`,
};

/** The tables the migrations change, with rows. */
export async function seedUsers(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE orgs (id int PRIMARY KEY);
INSERT INTO orgs VALUES (1), (2);
CREATE TABLE users (id serial PRIMARY KEY, email text, c int, org_id int, name varchar(255));
INSERT INTO users (email, c, org_id, name) SELECT 'u' || g, g, 1 + g % 2, 'n' || g FROM generate_series(1, 500) AS g;
CREATE TABLE tags (id int, label text);
INSERT INTO tags SELECT g, 't' || g FROM generate_series(1, 100) AS g;`);
}

/** A folder with `files`, removed by `remove()`. */
export async function migrationsFolder(files: Readonly<Record<string, string>>): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-safe-'));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A knex instance for the migrator, on `url`, with the given `zeroDowntime` option. */
export function migratorKnex(url: string, dir: string, zeroDowntime: Record<string, unknown>, pool = { min: 0, max: 1 }): Knex {
  return knexFactory({ client: 'pg', connection: url, pool, migrations: { directory: dir }, zeroDowntime } as Knex.Config);
}

/** Records what node-postgres sends to the server (the driver's own `query`), except from `ignored` clients. */
export function recordDriver(): { readonly sent: string[]; ignore(client: pg.Client): void; start(): void; stop(): void } {
  const sent: string[] = [];
  const ignored = new Set<pg.Client>();
  let recording = false;
  const prototype = pg.Client.prototype as unknown as { query: (this: pg.Client, ...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    if (recording && !ignored.has(this)) sent.push(typeof config === 'string' ? config : (config as { text: string }).text);
    return original.call(this, config, ...rest);
  };
  return {
    sent,
    ignore: (client) => void ignored.add(client),
    start: () => {
      sent.length = 0;
      recording = true;
    },
    stop: () => {
      recording = false;
      prototype.query = original;
    },
  };
}

/** The migration's work among what the driver sent: no runner statement (timeouts, transaction control), catalog read, or bookkeeping. */
export function actions(sent: readonly string[]): string[] {
  return sent.filter((text) => !/^\s*(select|begin|commit|rollback|savepoint|release|set|reset)\b/i.test(text) && !/knex_migrations|knex_zd_lock/.test(text));
}

/** A connection of its own. */
export async function session(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
