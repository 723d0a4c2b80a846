// npm run bench: the healthcare chain on loopback, one request in flight: clerk token exchange ->
// API (attestedFetch: token check, TLS binding, JWE) -> sealed Redis write (mutual TLS) -> API
// token exchange -> diagnostics replica (attestedFetch, onnxruntime) -> answers back. Sim TEE,
// embedded broker, two diagnostics replicas. `--requests N` (default 200, after 20 warm-up
// requests) or `--seconds S`. Ends with one summary line.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { WDBC_CSV_PATH } from '@subrosa/inference'
import { startHealthcareChain } from '../packages/cli/src/healthcare/chain.ts'
import { redisInstalled } from '../packages/cli/src/healthcare/redis.ts'

const { values } = parseArgs({
  strict: false,
  options: { requests: { type: 'string', default: '200' }, seconds: { type: 'string' } },
})
const requests = Number(values.requests)
const budget = values.seconds === undefined ? undefined : Number(values.seconds)
if (!existsSync(WDBC_CSV_PATH) || !redisInstalled()) {
  process.stderr.write('bench inference: needs python3-sklearn and redis-server\n')
  console.log('bench inference skipped=dependencies-absent')
  process.exit(0)
}

const dir = await mkdtemp(join(tmpdir(), 'subrosa-bench-inference-'))
const chain = await startHealthcareChain({ dir })
try {
  const records = chain.sampleRecords(100)
  const record = (i: number) => records[i % records.length] as (typeof records)[number]
  for (let i = 0; i < 20; i++) await chain.submit(record(i))
  const latencies: number[] = []
  const started = performance.now()
  const more = () =>
    budget === undefined
      ? latencies.length < requests
      : performance.now() - started < budget * 1000 || latencies.length === 0
  while (more()) {
    const t = performance.now()
    await chain.submit(record(latencies.length))
    latencies.push(performance.now() - t)
  }
  const elapsed = (performance.now() - started) / 1000
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
  process.stderr.write(
    `bench inference: ${latencies.length} requests through the full chain in ${elapsed.toFixed(1)} s (sim TEE, loopback)\n`,
  )
  console.log(
    `bench inference chain_p50_ms=${at(0.5).toFixed(1)} chain_p99_ms=${at(0.99).toFixed(1)} req_per_s=${(latencies.length / elapsed).toFixed(1)}`,
  )
} finally {
  await chain.close()
  await rm(dir, { recursive: true, force: true })
}
