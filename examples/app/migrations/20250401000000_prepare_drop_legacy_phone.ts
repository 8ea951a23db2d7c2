// Release 3, pre-deploy: release-3 code no longer writes `legacy_phone`; drop its NOT NULL first
// so that its inserts work while the column still exists for the release-2 code.
import type { Knex } from 'knex';
import { prepareDropColumn, setNotNull } from 'knex-zero-downtime';

export const config = { stage: 'pre-deploy' };

export async function up(knex: Knex): Promise<void> {
  await prepareDropColumn(knex, 'customers', 'legacy_phone');
}

export async function down(knex: Knex): Promise<void> {
  await setNotNull(knex, 'customers', 'legacy_phone');
}
