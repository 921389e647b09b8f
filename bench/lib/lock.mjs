// One benchmark run at a time: two at once would share the fixed database names (the second drops
// the first's database) and each would measure the other's load.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Takes the lock file `path` for this process, or throws naming the live run that holds it (a
 * lock left by a process that is gone is taken over). Resolves with its release.
 */
export function takeRunLock(path) {
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (holder > 0 && alive(holder))
      throw new Error(`another benchmark run (pid ${holder}) is running: wait for it, or stop it (${path})`);
    try {
      unlinkSync(path);
    } catch {
      // another run took it over first
    }
  }
}
