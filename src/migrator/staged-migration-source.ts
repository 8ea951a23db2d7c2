import type { Knex } from 'knex';

/** A prepared migration: the module knex will run, with the transaction decision and runner wrapping applied. */
export type PreparedMigration = Knex.Migration & { config?: Record<string, unknown> };

/**
 * Wraps the knexfile's migration source for one command: hides the *pending* migrations of
 * the other stage (never completed ones: knex would call the directory corrupt), and hands
 * knex prepared migration modules.
 */
export class StagedMigrationSource<T> implements Knex.MigrationSource<T> {
  constructor(
    private readonly base: Knex.MigrationSource<T>,
    private readonly hidden: ReadonlySet<string>,
    private readonly prepared: ReadonlyMap<string, PreparedMigration>,
  ) {}

  async getMigrations(loadExtensions: readonly string[]): Promise<T[]> {
    const all = await this.base.getMigrations(loadExtensions);
    return all.filter((m) => !this.hidden.has(this.base.getMigrationName(m)));
  }

  getMigrationName(migration: T): string {
    return this.base.getMigrationName(migration);
  }

  getMigration(migration: T): Promise<Knex.Migration> {
    const prepared = this.prepared.get(this.base.getMigrationName(migration));
    return prepared ? Promise.resolve(prepared) : this.base.getMigration(migration);
  }
}
