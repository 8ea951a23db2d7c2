import { HotUpgradeError } from '../errors.js';

/** An hstore value: keys to string values, or `null` for the SQL NULL values. */
export type Hstore = Record<string, string | null>;

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

function fail(text: string, position: number, expected: string): never {
  throw new HotUpgradeError(
    `Cannot parse an hstore value: expected ${expected} at position ${position} of ${JSON.stringify(text.slice(0, 200))}. ` +
      'The column is probably not an hstore on this server: check that the hot-upgrade registry resolved the right type.',
    { details: { position, expected } },
  );
}

/**
 * Parses the text format of an hstore value (`"a"=>"1", "b"=>NULL`) into a plain object.
 *
 * Keys and values may be double-quoted (with `\"` and `\\` escapes, as PostgreSQL writes them) or bare;
 * a bare `NULL` value (any case) is `null`, a quoted `"NULL"` is the string `'NULL'`.
 * When a key repeats, the first one wins, as in PostgreSQL.
 */
export function parseHstore(text: string): Hstore {
  const result: Hstore = {};
  let pos = 0;
  const length = text.length;

  const skipSpaces = (): void => {
    while (pos < length && isSpace(text[pos])) pos++;
  };

  // Returns the token and whether it was quoted; a bare token ends at whitespace, '=>' or ','.
  const readToken = (what: string): [string, boolean] => {
    if (text[pos] === '"') {
      pos++;
      let token = '';
      for (;;) {
        if (pos >= length) fail(text, pos, `a closing quote for the ${what}`);
        const ch = text[pos++];
        if (ch === '"') return [token, true];
        if (ch === '\\') {
          if (pos >= length) fail(text, pos, 'a character after the backslash');
          token += text[pos++];
        } else {
          token += ch;
        }
      }
    }
    let token = '';
    while (pos < length) {
      const ch = text[pos];
      if (isSpace(ch) || ch === ',' || (ch === '=' && text[pos + 1] === '>')) break;
      if (ch === '\\' && pos + 1 < length) {
        token += text[pos + 1];
        pos += 2;
      } else {
        token += ch;
        pos++;
      }
    }
    if (token === '') fail(text, pos, `a ${what}`);
    return [token, false];
  };

  skipSpaces();
  while (pos < length) {
    const [key] = readToken('key');
    skipSpaces();
    if (text[pos] !== '=' || text[pos + 1] !== '>') fail(text, pos, "'=>'");
    pos += 2;
    skipSpaces();
    const [raw, quoted] = readToken('value');
    const value = !quoted && raw.toLowerCase() === 'null' ? null : raw;
    if (!Object.prototype.hasOwnProperty.call(result, key)) {
      // A key named __proto__ must become an own property, not the object's prototype.
      Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
    }
    skipSpaces();
    if (pos >= length) break;
    if (text[pos] !== ',') fail(text, pos, "',' or the end of the value");
    pos++;
    skipSpaces();
    if (pos >= length) fail(text, pos, 'a key after the comma');
  }
  return result;
}
