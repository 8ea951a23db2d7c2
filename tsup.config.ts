import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    // The peers and optional peers are resolved from the user's project, never bundled.
    external: ['knex', 'pg', 'ioredis', 'memjs', 'libpg-query', 'tsx'],
  },
  {
    entry: { 'cli/bin': 'src/cli/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    external: ['knex', 'pg', 'ioredis', 'memjs', 'libpg-query', 'tsx'],
  },
]);
