// The 1 KiB value every workload moves: printable ASCII, the same bytes as bench/lua/put.lua.
const SEED = 'rosetta-bench-value-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ|';

export function valueOf(size = 1024) {
  return SEED.repeat(Math.ceil(size / SEED.length)).slice(0, size);
}
