import test from 'ava';
import { loadParser } from '../../../src/analysis/parser.js';
import { candidateOf } from '../../../src/safe-by-default/candidate.js';
import { SafeFormCursor } from '../../../src/safe-by-default/cursor.js';
import type { SafeFormDirective, SafeFormKind } from '../../../src/safe-by-default/directive.js';

test.before(async () => {
  await loadParser();
});

const kinds: ReadonlyArray<[string, SafeFormKind | null]> = [
  ['create index "users_c_index" on "users" ("c")', 'index'],
  ['CREATE UNIQUE INDEX IF NOT EXISTS i ON s.t (lower(a)) WHERE b', 'index'],
  ['alter table "users" add constraint "f" foreign key ("x") references "orgs" ("id")', 'foreign-key'],
  ['ALTER TABLE t ADD CHECK (a > 0);', 'check'],
  ['alter table "users" alter column "email" set not null', 'not-null'],
  ['alter table "users" add constraint "u" unique ("a", "b")', 'unique'],
  ['ALTER TABLE t ADD PRIMARY KEY (id)', 'primary-key'],
  // Already safe, or with no safe form here.
  ['CREATE INDEX CONCURRENTLY i ON t (a)', null],
  ['ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES r NOT VALID', null],
  ['ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID', null],
  ['ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i', null],
  ['ALTER TABLE t ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&)', null],
  ['ALTER TABLE t ADD COLUMN a int, ADD CONSTRAINT c CHECK (a > 0)', null],
  ['ALTER TABLE ONLY t ADD CONSTRAINT c CHECK (a > 0)', null],
  ['CREATE INDEX i ON ONLY t (a)', null],
  ['ALTER TABLE t ALTER COLUMN a TYPE bigint', null],
  ['ALTER INDEX i SET (fillfactor = 70)', null],
  ['CREATE INDEX a ON t (a); CREATE INDEX b ON t (b)', null],
  ['not sql at all', null],
];

for (const [sql, kind] of kinds) {
  test(`${sql} → ${kind ?? 'no safe form'}`, (t) => {
    t.is(candidateOf(sql)?.kind ?? null, kind);
  });
}

test('a text sent with bindings is not one (DDL takes none; the text is not the statement)', (t) => {
  t.is(candidateOf('CREATE INDEX i ON t (a)', ['x']), null);
  t.is(candidateOf('CREATE INDEX i ON t (a)', [])?.kind, 'index');
  t.is(candidateOf('  CREATE INDEX i ON t (a) ;  ')?.sql, 'CREATE INDEX i ON t (a)');
});

function directive(ordinal: number, sql: string): SafeFormDirective {
  return { ordinal, sql, kind: candidateOf(sql)!.kind, stage: null, findings: [] };
}

test('the cursor numbers the statements that have a safe form, and hands out the planned ones', (t) => {
  const cursor = new SafeFormCursor([directive(1, 'CREATE INDEX b ON t (b)')]);
  t.is(cursor.take('SELECT 1'), null);
  t.deepEqual(cursor.take('CREATE INDEX a ON t (a)'), { ordinal: 0, directive: null });
  t.is(cursor.take('ALTER TABLE t ADD COLUMN x int'), null);
  t.deepEqual(cursor.take('CREATE INDEX b ON t (b);'), { ordinal: 1, directive: directive(1, 'CREATE INDEX b ON t (b)') });
  t.deepEqual(cursor.take('CREATE INDEX c ON t (c)'), { ordinal: 2, directive: null });
});

test('the cursor compares in the driver form of the text (knex turns ? into $n)', (t) => {
  const cursor = new SafeFormCursor([directive(0, 'CREATE INDEX "i?" ON t (a)')]);
  const position = (sql: string) => sql.replace('?', '$1');
  t.is(cursor.take('CREATE INDEX "i$1" ON t (a)', [], position)?.directive?.sql, 'CREATE INDEX "i?" ON t (a)');
});

test('a statement that is not the one the plan saw at its place is refused, by name', (t) => {
  const cursor = new SafeFormCursor([directive(0, 'CREATE INDEX a ON t (a)')]);
  const error = t.throws(() => cursor.take('CREATE INDEX other ON t (a)'));
  t.is(
    error?.message,
    'The migration sent\n  CREATE INDEX other ON t (a)\nwhere its plan has\n  CREATE INDEX a ON t (a)\nwhich safeByDefault runs in its safe form: the migration does not send what it sent when it was analysed, so the plan no longer says what runs. Nothing of that statement was sent; statements before it were committed. Plan again (knex-zd migrate:plan) and run the migration again.',
  );
});

test('the shadow tracer passes the statements the runner replaced', (t) => {
  const cursor = new SafeFormCursor();
  cursor.passed(1);
  t.is(cursor.take('CREATE INDEX c ON t (c)')?.ordinal, 2);
});
