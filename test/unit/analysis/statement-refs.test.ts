import test from 'ava';
import { loadParser } from '../../../src/analysis/classify/index.js';
import { parseStatements } from '../../../src/analysis/parser.js';
import { statementRefs } from '../../../src/analysis/catalog/statement-refs.js';
test('refs', async (t) => {
  await loadParser();
  const r = (sql: string) => { const [p] = parseStatements(sql); return p.ok ? statementRefs(p.node) : null; };
  t.deepEqual(r('create table "knex_migrations" (id int)')?.relations, [{ schema: null, table: 'knex_migrations' }]);
  t.deepEqual(r('ALTER TABLE s.t ADD COLUMN c int REFERENCES u (id)')?.relations, [{ schema: 's', table: 't' }, { schema: null, table: 'u' }]);
  t.deepEqual(r('DROP INDEX s.i')?.indexes, [{ schema: 's', table: 'i' }]);
  t.deepEqual(r('insert into a select * from b join c on true')?.relations.map((x) => x.table), ['a', 'b', 'c']);
});
