// The C allocator's settings every Rosetta process runs with: `npm start` and `npm run start:*`
// (scripts/start.mjs), the images (their Dockerfiles' ENV, checked by test/deploy), and the bench's
// services. A value already in the environment wins.
//
// glibc serves a request of 128 KiB or more with its own mmap, and gives it back when it is
// freed; but it then raises that threshold to the size just freed, so that later requests of that
// size come from the heap instead. A service's large buffers (a 1 MB batch, a Postgres bind
// message of as much, a page of rows) then land in the heap between long-lived small ones, and
// the heap cannot shrink past those: the process keeps its high-water mark for good (the api held
// 220 MB after the bench's seeding against 128–133 MB with the threshold fixed; docs/deployment.md).
// Setting the threshold explicitly turns that adjustment off.
export const MALLOC_ENV = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '131072' });

/** `env` with MALLOC_ENV's settings where it has none of its own. */
export const withMallocEnv = (env) => ({ ...MALLOC_ENV, ...env });
