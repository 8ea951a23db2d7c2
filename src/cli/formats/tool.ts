import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name and version, read from its package.json (found above this file, built or not). */
export function toolInfo(): { name: string; version: string } {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'knex-zero-downtime') return { name: pkg.name, version: pkg.version ?? '0.0.0' };
    } catch {
      // no package.json here: look further up
    }
    if (path.dirname(dir) === dir) return { name: 'knex-zero-downtime', version: '0.0.0' };
  }
}
