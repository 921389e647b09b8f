// Fails when src/gen is not what `buf generate` makes of proto/ (someone edited a .proto or the
// generated code by hand). Generates into a temporary copy, then compares file by file.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'rosetta-proto-'));
const bin = join(root, '..', '..', 'node_modules', '.bin');
const list = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
try {
  cpSync(join(root, 'proto'), join(work, 'proto'), { recursive: true });
  for (const f of ['buf.yaml', 'buf.gen.yaml']) cpSync(join(root, f), join(work, f));
  execFileSync(join(bin, 'buf'), ['generate'], {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const fresh = join(work, 'src', 'gen');
  const committed = join(root, 'src', 'gen');
  const a = list(fresh);
  const b = list(committed);
  const stale = [...new Set([...a, ...b])].filter(
    (f) =>
      !a.includes(f) ||
      !b.includes(f) ||
      readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
  );
  if (stale.length > 0) {
    console.error(
      `packages/proto/src/gen is out of date (${stale.join(', ')}); run: npm run -w @rosetta/proto generate`,
    );
    process.exit(1);
  }
  console.log('packages/proto/src/gen matches proto/');
} finally {
  rmSync(work, { recursive: true, force: true });
}
