// npm run bench [-- --rows N --runs N --seconds S]: every benchmark in one run, each in its own
// process (DuckDB's memory does not skew the verifier's figures). Options go to all of them;
// each takes the ones it knows. The summary lines (`bench ...`) are on stdout.
import { spawnSync } from 'node:child_process'

const args = process.argv.slice(2)
for (const bench of [
  'bench/engine.ts',
  'bench/pme.ts',
  'bench/attest.ts',
  'bench/broker.ts',
  'bench/inference.ts',
]) {
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', bench, ...args],
    { stdio: 'inherit' },
  )
  if (r.status !== 0) process.exit(r.status ?? 1)
}
