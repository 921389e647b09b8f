import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiConfigSchema } from '../../apps/api/src/config';
import { GatewayConfigSchema } from '../../apps/gateway/src/config';
import { WorkerConfigSchema } from '../../apps/worker/src/config';
import { ROOT } from './support';

/** Every setting a process reads is documented in the README, in its app's table, with its default. */

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function table(app: string): Map<string, string> {
  const start = readme.indexOf(`### ${app} (`);
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n#', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm))
    rows.set(match[1] as string, (match[2] as string).trim());
  return rows;
}

describe.each([
  ['api', ApiConfigSchema.shape],
  ['gateway', GatewayConfigSchema.shape],
  ['worker', WorkerConfigSchema.shape],
] as const)('README configuration of the %s', (app, shape) => {
  const rows = table(app);

  it('lists exactly the variables the schema reads', () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(shape).sort());
  });

  it.each(Object.entries(shape))('gives the real default of %s', (name, schema) => {
    const parsed = (schema as { safeParse(v: undefined): { success: boolean; data?: unknown } }).safeParse(undefined);
    const documented = rows.get(name) ?? '';
    if (!parsed.success || parsed.data === undefined) expect(documented).toMatch(/^unset/);
    else expect(documented).toBe(`\`${String(parsed.data)}\``);
  });
});
