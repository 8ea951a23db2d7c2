/** The safe operation builders, one concept per file. */
export { saferRenameTablePart1, saferRenameTablePart2, revertSaferRenameTablePart1, revertSaferRenameTablePart2 } from './rename-table.js';
export { saferRenameColumnPart1, saferRenameColumnPart2, revertSaferRenameColumnPart1, revertSaferRenameColumnPart2 } from './rename-column.js';
export { addNullableColumn, addColumnWithDefault, prepareDropColumn, dropColumn } from './columns.js';
export type { AddColumnWithDefaultOptions } from './columns.js';
export { dropTable } from './drop-table.js';
export { addIndexConcurrently, dropIndexConcurrently } from './indexes.js';
export type { AddIndexOptions } from './indexes.js';
export { addUniqueConstraint, addCheckConstraint, addForeignKey } from './constraints.js';
export type { AddUniqueConstraintOptions, AddForeignKeyOptions, ReferentialAction } from './constraints.js';
export { setNotNull, dropNotNull } from './not-null.js';
export type { SetNotNullOptions } from './not-null.js';
export { backfill } from './backfill.js';
export type { BackfillOptions, BackfillProgress } from './backfill.js';
export type { SchemaOption } from './catalog.js';
export type { SqlValue, RawSql } from './sql.js';
