// Installs dependencies when they are missing or stale, so that `npm start` and `npm test` work
// on a fresh clone. It records a hash of package-lock.json in node_modules after a successful
// install and reinstalls only when the lock file changes. Uses nothing but Node itself.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.rosetta-install');
const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');

if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) process.exit(0);

// `npm install` rather than `npm ci`: the lock file was made against a registry that lacks other
// platforms' optional binaries (@swc/core-*, @turbo/*, …), so `npm ci` refuses it as out of sync.
// Install keeps every locked version, resolves only what is missing, and leaves the lock as is.
console.log('Installing dependencies (npm install)…');
execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
writeFileSync(stamp, hash);
