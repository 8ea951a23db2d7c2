/**
 * `check --format sarif`: a SARIF 2.1.0 log (the format GitHub code scanning and most CI
 * dashboards read), one rule per check id, one result per finding, located in its migration
 * file. An opted-out finding is a result with an in-source suppression and its reason.
 */
import { pathToFileURL } from 'node:url';
import type { CheckFinding, MigrationReport } from '../../analysis/migration-types.js';
import type { CheckResult, CheckRule } from '../../checks/index.js';
import { Locator } from './locate.js';
import { toolInfo } from './tool.js';
import { findingText } from './finding-text.js';

/** The schema a SARIF 2.1.0 log names. */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

const INFORMATION_URI = 'https://www.npmjs.com/package/knex-zero-downtime';

function level(finding: CheckFinding): 'error' | 'warning' | 'note' {
  return finding.severity === 'info' ? 'note' : finding.severity;
}

/** The SARIF log of a `check` run, as an object (see {@link checkSarif} for the text). */
export function sarifLog(input: { migrations: readonly MigrationReport[]; result: CheckResult; rules: readonly CheckRule[]; root: string }) {
  const { migrations, result, root } = input;
  const locator = new Locator(migrations, root);
  // Every check id is a rule; a finding whose code no check declares still gets one, so that ruleIndex always points at it.
  const rules = [...input.rules];
  for (const finding of result.findings) {
    if (!rules.some((r) => r.id === finding.code)) rules.push({ id: finding.code, description: finding.code, unsafe: false });
  }
  const index = new Map(rules.map((rule, i) => [rule.id, i]));
  const tool = toolInfo();
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'knex-zd',
            fullName: `${tool.name} check`,
            version: tool.version,
            informationUri: INFORMATION_URI,
            rules: rules.map((rule) => ({
              id: rule.id,
              name: rule.id,
              shortDescription: { text: rule.description },
              helpUri: `${INFORMATION_URI}#checks`,
              properties: { tags: rule.unsafe ? ['unsafe-operation'] : ['migration'] },
            })),
          },
        },
        originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(root.endsWith('/') ? root : `${root}/`).href } },
        results: result.findings.map((finding) => {
          const location = locator.locate(finding);
          return {
            ruleId: finding.code,
            ruleIndex: index.get(finding.code)!,
            level: level(finding),
            message: { text: findingText(finding) },
            // A finding of a migration whose file is unknown (a custom migration source) has no physical location.
            locations: [
              {
                ...(location.file === null
                  ? {}
                  : { physicalLocation: { artifactLocation: { uri: encodeURI(location.file), uriBaseId: '%SRCROOT%' }, region: { startLine: location.line } } }),
                ...(finding.migration ? { logicalLocations: [{ name: finding.migration, kind: 'module' }] } : {}),
              },
            ],
            ...(finding.allowed ? { suppressions: [{ kind: 'inSource', status: 'accepted', justification: finding.allowed.reason }] } : {}),
            properties: {
              migration: finding.migration,
              ...(finding.statement ? { statement: finding.statement } : {}),
              ...(finding.smallTable ? { smallTable: finding.smallTable.note } : {}),
            },
          };
        }),
      },
    ],
  };
}

/** `check --format sarif` as text. */
export function checkSarif(input: Parameters<typeof sarifLog>[0]): string {
  return JSON.stringify(sarifLog(input), null, 2);
}
