import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { PG_SERVER_URL } from '../../helpers/db.js';
import { ROOT } from '../../helpers/project.js';
import { THROUGHPUT } from '../../../src/analysis/throughput.js';

const run = promisify(execFile);

test('bench/throughput.ts measures every rate of src/analysis/throughput.ts on the server, and drops its database', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/throughput.ts'), '--rows', '5000', '--database-url', PG_SERVER_URL], {
    cwd: ROOT,
    timeout: 170_000,
  });
  const measured = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<string, number>;
  t.deepEqual(Object.keys(measured).sort(), Object.keys(THROUGHPUT).sort());
  for (const [key, value] of Object.entries(measured)) t.true(Number.isFinite(value) && value > 0, key);
  t.regex(stdout, /^PostgreSQL \d+\.\d+.*, 5000 rows, heap [\d.]+ MB/m);
});
