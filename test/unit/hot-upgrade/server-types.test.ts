import test from 'ava';
import { HotUpgradeError } from '../../../src/errors.js';
import { isServerChange, movedTypes, readServerTypes } from '../../../src/hot-upgrade/server-types.js';
import { splitTypeName } from '../../../src/hot-upgrade/type-definition.js';

const names = (...qualified: string[]) => new Map(qualified.map((q) => [q, splitTypeName(q)]));
const snapshot = (versionNum: number, rows: unknown[]) => JSON.stringify({ versionNum: String(versionNum), version: '17.1', types: rows });

test('reads OIDs (written as strings by json_build_array) by registered name; missing types are null', (t) => {
  const server = readServerTypes(snapshot(170001, [['16400', 'public', 'hstore', '16405', true]]), names('hstore', 'citext'));
  t.deepEqual(server, {
    versionNum: 170001,
    version: '17.1',
    types: { hstore: { oid: 16400, arrayOid: 16405 }, citext: { oid: null, arrayOid: null } },
  });
});

test('an unqualified name prefers the type the search_path shows, then public, then the oldest', (t) => {
  const rows = [
    ['17000', 'ext', 'vector', '0', false],
    ['16999', 'other', 'vector', '0', false],
    ['17001', 'public', 'vector', '17002', false],
  ];
  t.is(readServerTypes(snapshot(1, rows), names('vector')).types.vector.oid, 17001);
  t.is(readServerTypes(snapshot(1, [...rows, ['18000', 'app', 'vector', '0', true]]), names('vector')).types.vector.oid, 18000);
  t.is(readServerTypes(snapshot(1, rows.slice(0, 2)), names('vector')).types.vector.oid, 16999);
  t.deepEqual(readServerTypes(snapshot(1, rows), names('ext.vector')).types['ext.vector'], { oid: 17000, arrayOid: null });
});

test('an answer that is not JSON is a HotUpgradeError', (t) => {
  t.throws(() => readServerTypes('nope', names('hstore')), { instanceOf: HotUpgradeError });
});

const server = (versionNum: number, hstore: number | null, citext: number | null) => ({
  versionNum,
  version: String(versionNum),
  types: { hstore: { oid: hstore, arrayOid: hstore && hstore + 1 }, citext: { oid: citext, arrayOid: citext && citext + 1 } },
});

test('movedTypes lists every type whose OID or array OID differs', (t) => {
  t.deepEqual(movedTypes(server(15, 10, 20), server(17, 10, 30)), [
    { name: 'citext', from: { oid: 20, arrayOid: 21 }, to: { oid: 30, arrayOid: 31 } },
  ]);
});

test('a server change is another version or a type that moved or vanished, not one that appeared', (t) => {
  t.false(isServerChange(server(15, 10, 20), server(15, 10, 20)));
  t.true(isServerChange(server(15, 10, 20), server(17, 10, 20)));
  t.true(isServerChange(server(15, 10, 20), server(15, 10, 25)));
  t.true(isServerChange(server(15, 10, 20), server(15, 10, null)));
  t.false(isServerChange(server(15, 10, null), server(15, 10, 20)));
});

test('type names: plain or schema-qualified; anything else is a ConfigError', (t) => {
  t.deepEqual(splitTypeName('hstore'), { schema: null, name: 'hstore' });
  t.deepEqual(splitTypeName('ext.vector'), { schema: 'ext', name: 'vector' });
  for (const bad of ['', '.x', 'x.', 'a.b.c', '"Quoted"']) {
    t.throws(() => splitTypeName(bad), { code: 'ZD_CONFIG' });
  }
});
