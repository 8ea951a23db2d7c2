import type { SafeFormKind } from './directive.js';

const WHAT: Readonly<Record<SafeFormKind, string>> = Object.freeze({
  index: 'CREATE INDEX CONCURRENTLY (an INVALID index left by an interrupted build is dropped first)',
  'foreign-key': 'ADD … NOT VALID (a brief lock), then VALIDATE CONSTRAINT in a transaction of its own, which lets writes through',
  check: 'ADD … NOT VALID (a brief lock), then VALIDATE CONSTRAINT in a transaction of its own, which lets reads and writes through',
  'not-null': 'CHECK (… IS NOT NULL) NOT VALID, VALIDATE in a transaction of its own, then SET NOT NULL without a scan (as setNotNull does)',
  unique: 'a unique index built with CREATE INDEX CONCURRENTLY, then ADD CONSTRAINT … UNIQUE USING INDEX (catalog only)',
  'primary-key': 'its columns made NOT NULL through a validated CHECK, a unique index built with CREATE INDEX CONCURRENTLY, then ADD CONSTRAINT … PRIMARY KEY USING INDEX (catalog only)',
});

/** What a finding's note says when its statement runs in its safe form. */
export function safeFormNote(kind: SafeFormKind): string {
  return `runs in its safe form (safeByDefault): ${WHAT[kind]}. The migration runs outside a transaction: each statement commits on its own.`;
}
