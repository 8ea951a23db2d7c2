import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Validate {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}
interface AjvInstance {
  compile(schema: object): Validate;
}

// CommonJS modules: ajv-draft-04 exports its class (also as `default`), ajv-formats its plugin.
const Ajv = (require('ajv-draft-04') as { default: new (options: Record<string, unknown>) => AjvInstance }).default;
const addFormats = require('ajv-formats') as (ajv: AjvInstance) => unknown;

/**
 * Validates a SARIF log against the official SARIF 2.1.0 JSON schema (sarif-2.1.0-rtm.5.json, the
 * OASIS standard's schema, as Microsoft's @microsoft/jest-sarif ships it), with ajv. Returns the
 * errors, empty when the log is valid.
 */
export function sarifErrors(log: unknown): string[] {
  const file = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  // The schema's language pattern is not valid in unicode mode (a stray ']'): compile patterns without the u flag.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  if (validate(log)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}
