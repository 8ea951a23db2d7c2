/** Statements classified by their node type alone: neutral ones, non-transactional ones and purely additive CREATEs. */
import type { PgNode } from '../parser.js';
import type { StatementBuilder } from './statement.js';

export type Handler = (statement: StatementBuilder, body: PgNode) => void;

export const NEUTRAL_SUMMARIES: Readonly<Record<string, string>> = {
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  TransactionStmt: 'transaction control',
  GrantStmt: 'GRANT/REVOKE',
  GrantRoleStmt: 'GRANT/REVOKE role',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES',
  CreateRoleStmt: 'CREATE ROLE',
  AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE SET',
  DropRoleStmt: 'DROP ROLE',
  AlterOwnerStmt: 'ALTER … OWNER TO',
  DiscardStmt: 'DISCARD',
  NotifyStmt: 'NOTIFY',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  AlterFunctionStmt: 'ALTER FUNCTION',
  AlterExtensionStmt: 'ALTER EXTENSION',
  AlterExtensionContentsStmt: 'ALTER EXTENSION ADD/DROP',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE SET',
  SecLabelStmt: 'SECURITY LABEL',
  CheckPointStmt: 'CHECKPOINT',
};

export const NON_TRANSACTIONAL_SUMMARIES: Readonly<Record<string, string>> = {
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterSystemStmt: 'ALTER SYSTEM',
};

// Additive statements that take no lock on an existing table.
export const CREATE_SUMMARIES: Readonly<Record<string, string>> = {
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateExtensionStmt: 'CREATE EXTENSION',
  CreateFunctionStmt: 'CREATE FUNCTION',
  CreateEnumStmt: 'CREATE TYPE AS ENUM',
  CompositeTypeStmt: 'CREATE TYPE AS',
  CreateRangeStmt: 'CREATE TYPE AS RANGE',
  DefineStmt: 'CREATE TYPE/AGGREGATE/OPERATOR/COLLATION',
  CreateDomainStmt: 'CREATE DOMAIN',
  CreateCastStmt: 'CREATE CAST',
  CreateConversionStmt: 'CREATE CONVERSION',
  CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER',
  CreateForeignServerStmt: 'CREATE SERVER',
  CreateUserMappingStmt: 'CREATE USER MAPPING',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER',
  CreateTransformStmt: 'CREATE TRANSFORM',
  CreatePLangStmt: 'CREATE LANGUAGE',
  CreateAmStmt: 'CREATE ACCESS METHOD',
};
