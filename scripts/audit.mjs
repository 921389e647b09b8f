// `npm run audit`: fails when a production dependency (what the images ship) has a known
// advisory of high or critical severity; `--include-dev` judges the development dependencies
// too. It needs the npm registry's advisory endpoint: when that cannot be reached (offline, or a
// registry mirror without it) it fails too, with exit code 2 and a message saying so, rather
// than passing without having checked anything. `--report FILE` judges a saved
// `npm audit --json` report instead of asking the registry (CI artifacts; the tests of this script).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BLOCKING = new Set(['high', 'critical']);

function report() {
  const at = process.argv.indexOf('--report');
  if (at !== -1) {
    const file = process.argv[at + 1];
    if (file === undefined) throw new Error('--report needs a file');
    return readFileSync(file, 'utf8');
  }
  const args = ['audit', '--json', ...(process.argv.includes('--include-dev') ? [] : ['--omit=dev'])];
  const run = spawnSync('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) throw run.error;
  return run.stdout;
}

let parsed;
try {
  parsed = JSON.parse(report());
} catch (error) {
  console.error(`audit: npm audit gave no report (${error instanceof Error ? error.message : String(error)})`);
  process.exit(2);
}

if (parsed.vulnerabilities === undefined || parsed.metadata?.vulnerabilities === undefined) {
  const why = parsed.message ?? parsed.error?.summary ?? 'no vulnerability report';
  console.error(`audit: the registry's advisory endpoint could not be used, so nothing was checked: ${why}`);
  console.error(
    "audit: run `npm run audit` where the npm registry's advisory endpoint answers; this check is not optional.",
  );
  process.exit(2);
}

const blocking = Object.values(parsed.vulnerabilities).filter((v) => BLOCKING.has(v.severity));
const counts = parsed.metadata.vulnerabilities;
console.log(
  `audit: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`,
);
for (const v of blocking) {
  const titles = (v.via ?? []).filter((via) => typeof via === 'object').map((via) => `${via.title} (${via.url})`);
  console.error(`audit: ${v.severity}: ${v.name} ${v.range}${titles.length > 0 ? ` — ${titles.join('; ')}` : ''}`);
}
process.exit(blocking.length > 0 ? 1 : 0);
