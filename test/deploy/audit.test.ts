import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support';

/**
 * `npm run audit` (scripts/audit.mjs) judges npm audit's report: high or critical advisories
 * fail it (1), an unreachable advisory endpoint fails it too (2), never silently passing. Here
 * it judges saved reports; the live check needs the registry and runs as `npm run audit`.
 */

const dir = mkdtempSync(join(tmpdir(), 'rosetta-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function judge(report: string): { status: number | null; output: string } {
  const file = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, report);
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'audit.mjs'), '--report', file], { encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

const counts = (severities: Record<string, number>) => ({
  vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...severities },
  dependencies: { prod: 100, dev: 200, total: 300 },
});
const advisory = (name: string, severity: string) => ({
  name,
  severity,
  range: '<1.2.3',
  isDirect: false,
  via: [{ source: 1, name, title: `${name} is broken`, url: `https://example.org/${name}`, severity, range: '<1.2.3' }],
});

it('passes a report without advisories, and one with moderate and low ones only', () => {
  expect(judge(JSON.stringify({ auditReportVersion: 2, vulnerabilities: {}, metadata: counts({}) })).status).toBe(0);
  const mild = judge(
    JSON.stringify({
      auditReportVersion: 2,
      vulnerabilities: { a: advisory('a', 'moderate'), b: advisory('b', 'low') },
      metadata: counts({ moderate: 1, low: 1 }),
    }),
  );
  expect(mild).toEqual({ status: 0, output: 'audit: 0 critical, 0 high, 1 moderate, 1 low\n' });
});

it('fails on a high or critical advisory, naming the package and the advisory', () => {
  const report = judge(
    JSON.stringify({
      auditReportVersion: 2,
      vulnerabilities: {
        a: advisory('a', 'moderate'),
        bad: advisory('bad', 'high'),
        worse: advisory('worse', 'critical'),
      },
      metadata: counts({ moderate: 1, high: 1, critical: 1 }),
    }),
  );
  expect(report.status).toBe(1);
  expect(report.output).toContain('audit: high: bad <1.2.3 — bad is broken (https://example.org/bad)');
  expect(report.output).toContain('audit: critical: worse <1.2.3');
  expect(report.output).not.toContain('moderate: a');
});

it('fails loudly when the advisory endpoint could not be used or npm gave no report', () => {
  const unreachable = judge(
    JSON.stringify({
      message: '405 Method Not Allowed - POST https://registry.example/advisories/bulk',
      statusCode: 405,
      error: {},
    }),
  );
  expect(unreachable.status).toBe(2);
  expect(unreachable.output).toContain('nothing was checked: 405 Method Not Allowed');
  const offline = judge(JSON.stringify({ error: { code: 'ENOTFOUND', summary: 'request to the registry failed' } }));
  expect(offline.status).toBe(2);
  expect(offline.output).toContain('request to the registry failed');
  const garbage = judge('npm error something');
  expect(garbage.status).toBe(2);
  expect(garbage.output).toContain('npm audit gave no report');
});
