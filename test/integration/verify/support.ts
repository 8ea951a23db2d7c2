import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type TestProject } from '../../helpers/project.js';

/** The first release: users with a name and a legacy name, and a few rows. */
export const BASELINE = {
  'migrations/20250101000000_create_users.js': `
exports.up = async (knex) => {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('name').notNullable();
    t.string('legacy_name');
    t.timestamp('created_at').notNullable().defaultTo(knex.fn.now());
  });
  await knex('users').insert([{ name: 'Ada', legacy_name: 'ada' }, { name: 'Grace', legacy_name: 'grace' }]);
};
exports.down = (knex) => knex.schema.dropTable('users');
`,
};

/** The queries the first release's code sends. */
export const OLD_SQL = `-- the release running in production
select id, name, legacy_name from users where id = $1;
insert into users (name, legacy_name) values ($1, $2) returning id;
update users set name = $1 where id = $2;
`;

/** A project on a fresh database with `files`, the baseline applied. */
export async function baselineProject(zeroDowntime = '{}', files: Record<string, string> = BASELINE): Promise<{ db: TestDatabase; project: TestProject }> {
  const db = await createTestDatabase('zd_verify');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime), ...files });
  const applied = await project.run(['migrate:latest']);
  if (applied.code !== 0) throw new Error(`baseline failed: ${applied.stderr}`);
  return { db, project };
}

/** Everything verify could change on the target: catalog, data, sequences, migration rows. */
export async function snapshot(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql)).rows;
    return {
      relations: await q(`SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`),
      columns: await q(`SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`),
      constraints: await q(`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`),
      indexes: await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
      extensions: await q(`SELECT extname FROM pg_extension ORDER BY 1`),
      users: await q(`SELECT * FROM users ORDER BY id`),
      sequence: await q(`SELECT last_value, is_called FROM users_id_seq`),
      migrations: await q(`SELECT name, batch FROM knex_migrations ORDER BY id`),
    };
  } finally {
    await client.end();
  }
}
