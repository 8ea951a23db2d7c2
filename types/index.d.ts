/**
 * knex-zero-downtime's augmentation of knex's types, for projects that never import the
 * package itself (a JavaScript knexfile checked with `// @ts-check`, say):
 *
 *   /// <reference types="knex-zero-downtime/types" />
 *   /** @type {import('knex').Knex.Config} *\/
 *   module.exports = { client: 'pg', zeroDowntime: { timeouts: { lock: '2s' } } };
 *
 * It adds `zeroDowntime` to `Knex.Config` and `config` (with `stage`) to `Knex.Migration`;
 * the declarations live in the package's own types, which this file loads.
 */
/// <reference path="../dist/index.d.ts" />
export type { ZeroDowntimeOptions, MigrationConfig, Stage } from '../dist/index.js';
