import test from 'ava';
import { analyzeSqlSync, loadParser } from '../../../src/analysis/classify/index.js';
import { ZeroDowntimeError } from '../../../src/errors.js';

// Runs in its own process (ava forks per file), so the parser is not loaded yet here.
test.serial('analyzeSqlSync throws a clear error before loadParser()', (t) => {
  const error = t.throws(() => analyzeSqlSync('SELECT 1'), { instanceOf: ZeroDowntimeError });
  t.is(error.code, 'ZD_PARSER_NOT_LOADED');
  t.is(
    error.message,
    'The PostgreSQL parser is not loaded: call `await loadParser()` once before `analyzeSqlSync()`, or use `await analyzeSql()`.',
  );
});

test.serial('loadParser is idempotent, and analyzeSqlSync works after it', async (t) => {
  await Promise.all([loadParser(), loadParser()]);
  await loadParser();
  t.is(analyzeSqlSync('SELECT 1').length, 1);
});
