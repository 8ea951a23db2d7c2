/**
 * The names PostgreSQL gives an index or a constraint that the statement does not name
 * (`makeObjectName` in src/backend/commands/indexcmds.c): `<table>_<columns>_<label>`, cut to
 * 63 bytes by shortening the longer of the table part and the columns part, never inside a
 * character. A safe form names the object explicitly, as PostgreSQL would have named it, so that
 * a run interrupted half-way finds it again by that name.
 */
import { MAX_IDENTIFIER_BYTES } from '../identifiers.js';

/** PostgreSQL's NAMEDATALEN: an identifier has at most NAMEDATALEN - 1 bytes. */
const NAMEDATALEN = MAX_IDENTIFIER_BYTES + 1;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The longest prefix of `text` of at most `max` bytes that ends on a character boundary (`pg_mbcliplen`). */
function clip(text: string, max: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = bytes(char);
    if (used + size > max) break;
    out += char;
    used += size;
  }
  return out;
}

/** `makeObjectName(name1, name2, label)`: `name1[_name2][_label]` within 63 bytes, the longer part shortened first. */
export function makeObjectName(name1: string, name2: string | null, label: string | null): string {
  let overhead = 0;
  let name1chars = bytes(name1);
  let name2chars = 0;
  if (name2 !== null) {
    name2chars = bytes(name2);
    overhead++;
  }
  if (label !== null) overhead += bytes(label) + 1;
  const available = NAMEDATALEN - 1 - overhead;
  while (name1chars + name2chars > available) {
    if (name1chars > name2chars) name1chars--;
    else name2chars--;
  }
  let name = clip(name1, name1chars);
  if (name2 !== null) name += `_${clip(name2, name2chars)}`;
  if (label !== null) name += `_${label}`;
  return name;
}

/** `ChooseIndexNameAddition` / `ChooseForeignKeyConstraintNameAddition`: the column names joined by `_`, stopping once the text reaches NAMEDATALEN bytes. */
export function columnsAddition(columns: readonly string[]): string {
  let out = '';
  for (const column of columns) {
    if (out !== '') out += '_';
    out += clip(column, NAMEDATALEN - 1);
    if (bytes(out) >= NAMEDATALEN) break;
  }
  return out;
}

/** The name of `CREATE INDEX ON t (a, b)`: `t_a_b_idx`. */
export function defaultIndexName(table: string, columns: readonly string[]): string {
  return makeObjectName(table, columnsAddition(columns), 'idx');
}

/** The name of an unnamed `UNIQUE (a, b)` (`t_a_b_key`) or `PRIMARY KEY` (`t_pkey`). */
export function defaultKeyName(table: string, columns: readonly string[], primary: boolean): string {
  return primary ? makeObjectName(table, null, 'pkey') : makeObjectName(table, columnsAddition(columns), 'key');
}

/** The name of an unnamed `FOREIGN KEY (a)`: `t_a_fkey`. */
export function defaultForeignKeyName(table: string, columns: readonly string[]): string {
  return makeObjectName(table, columnsAddition(columns), 'fkey');
}

/** The name of an unnamed `CHECK`: `t_c_check` when it reads one column, else `t_check`. */
export function defaultCheckName(table: string, columns: readonly string[]): string {
  const distinct = [...new Set(columns)];
  return makeObjectName(table, distinct.length === 1 ? distinct[0] : null, 'check');
}
