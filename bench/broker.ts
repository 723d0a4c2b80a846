// npm run bench [-- --broker-flows N --broker-concurrency C --broker-warmup W --broker-cpu-prof
// DIR]: full KBS flows (auth, attest with sim evidence, resource) per second, timed after W
// untimed ones, against two broker replicas, each in its own process, on one PostgreSQL
// ($SUBROSA_TEST_POSTGRES, a fresh database per run), driven round-robin from this process over
// loopback HTTPS: auth on one replica, attest on the other, the resource on the first. The client
// reuses one TEE key and does not decrypt (its cost is not the broker's). Without PostgreSQL it
// prints why and no figures. Ends with one summary line.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateSimPlatformKey } from '@subrosa/attest'
import { systemRandom, toBase64 } from '@subrosa/core'
import { generateOwnerKey } from '@subrosa/protocol'
import {
  type BrokerProcess,
  spawnBrokerProcess,
} from '../packages/broker/src/testing/broker-process.ts'
import {
  adminCall,
  createHttpsClient,
  generateTeeKey,
  kbsFlow,
} from '../packages/broker/src/testing/kbs-client.ts'
import { testPolicyYaml } from '../packages/broker/src/testing/policy-fixture.ts'
import {
  backendPids,
  createTestDatabase,
  postgresUnavailable,
} from '../packages/broker/src/testing/postgres.ts'

const { values } = parseArgs({
  strict: false,
  options: {
    'broker-flows': { type: 'string', default: '10000' },
    'broker-concurrency': { type: 'string', default: '32' },
    'broker-warmup': { type: 'string', default: '3000' },
    'broker-cpu-prof': { type: 'string' },
  },
})
const total = Number(values['broker-flows'])
const concurrency = Number(values['broker-concurrency'])
const warmup = Number(values['broker-warmup'])
// V8 CPU profiles of both replicas (written when they exit), for `node --cpu-prof`'s viewers.
const profileDir = values['broker-cpu-prof'] as string | undefined
if (
  !Number.isInteger(total) ||
  total < 1 ||
  !Number.isInteger(concurrency) ||
  concurrency < 1 ||
  !Number.isInteger(warmup) ||
  warmup < 0
) {
  process.stderr.write(
    'bench broker: --broker-flows and --broker-concurrency must be integers >= 1, --broker-warmup >= 0\n',
  )
  process.exit(2)
}

const unavailable = await postgresUnavailable()
if (unavailable) {
  process.stderr.write(`bench broker: ${unavailable}\n`)
  console.log('bench broker skipped=postgres-absent')
  process.exit(0)
}

type CpuSnapshot = { client: number; replicas: number; postgres: number }

/** CPU ms of a process from /proc (Linux), or 0 when unreadable. */
async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return 0
  }
}

/**
 * CPU used so far by this process, the replicas and the database's PostgreSQL backends (read
 * from /proc, so only when PostgreSQL runs on this machine); undefined where /proc is absent.
 */
async function cpuSnapshot(
  url: string,
  processes: readonly BrokerProcess[],
): Promise<CpuSnapshot | undefined> {
  if (process.platform !== 'linux') return undefined
  const own = process.cpuUsage()
  let replicaMs = 0
  for (const r of processes) replicaMs += await processCpuMs(r.pid)
  let postgresMs = 0
  for (const pid of await backendPids(url)) postgresMs += await processCpuMs(pid)
  return { client: (own.user + own.system) / 1000, replicas: replicaMs, postgres: postgresMs }
}

const MEASUREMENT = '5a'.repeat(48)
const database = await createTestDatabase()
const dirs: string[] = []
const replicas: BrokerProcess[] = []
try {
  const owner = await generateOwnerKey()
  const sim = await generateSimPlatformKey()
  const unsealKey = toBase64(systemRandom(32))
  for (let i = 0; i < 2; i++) {
    const dataDir = await mkdtemp(join(tmpdir(), 'subrosa-bench-broker-'))
    dirs.push(dataDir)
    replicas.push(
      await spawnBrokerProcess(
        {
          dataDir,
          postgres: database.url,
          unsealKey,
          publicUrl: 'https://broker.bench',
          simTrustedKeys: [sim.publicJwk],
          owners: [owner.publicJwk],
        },
        profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
      ),
    )
  }
  const client = createHttpsClient(
    await readFile(join(dirs[0] as string, 'ca.pem'), 'utf8'),
    concurrency,
  )
  const urls = replicas.map((r) => r.url)
  const applied = await adminCall(client, urls[0] as string, owner, 'POST', '/admin/v0/policies', {
    yaml: testPolicyYaml(owner.id, MEASUREMENT),
  })
  if (applied.status !== 201) throw new Error(`policy apply failed: ${applied.body}`)
  const teeKey = await generateTeeKey()
  const options = {
    workload: 'acme/analytics/job',
    measurement: MEASUREMENT,
    platformKey: sim.privateJwk,
    resource: 'acme/analytics/pepper',
    teeKey,
    decrypt: false,
  }
  const latencies: number[] = []
  const failures = new Map<string, number>()
  /** Run `count` flows on `concurrency` workers, round-robin over the replicas. */
  const run = async (count: number, record: boolean) => {
    let next = 0
    const worker = async () => {
      while (next < count) {
        const i = next++
        const a = urls[i % 2] as string
        const b = urls[(i + 1) % 2] as string
        const t = performance.now()
        try {
          await kbsFlow(client, [a, b, a], options)
          if (record) latencies.push(performance.now() - t)
        } catch (error) {
          const key = error instanceof Error ? error.message.slice(0, 80) : String(error)
          failures.set(key, (failures.get(key) ?? 0) + 1)
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  }
  // Warm up connections and the JIT of all three processes (a broker serves for days; the
  // figures are its steady state). Failures during warm-up count as errors too.
  await run(warmup, false)
  const warmupErrors = [...failures.values()].reduce((a, b) => a + b, 0)

  const cpuBefore = await cpuSnapshot(database.url, replicas)
  const started = performance.now()
  await run(total, true)
  const seconds = (performance.now() - started) / 1000
  const cpuAfter = await cpuSnapshot(database.url, replicas)
  client.close()
  latencies.sort((x, y) => x - y)
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  const errors = total - latencies.length + warmupErrors
  for (const [message, n] of failures) process.stderr.write(`bench broker: ${n}x ${message}\n`)
  process.stderr.write(
    `bench broker: ${total} flows after ${warmup} warm-up flows, 2 replicas, concurrency ${concurrency}, ${seconds.toFixed(1)} s\n`,
  )
  if (cpuBefore !== undefined && cpuAfter !== undefined) {
    const per = (k: keyof CpuSnapshot) =>
      ((cpuAfter[k] - cpuBefore[k]) / latencies.length).toFixed(2)
    process.stderr.write(
      `bench broker: CPU ms per flow: client ${per('client')}, replicas ${per('replicas')}, postgres ${per('postgres')}\n`,
    )
  }
  console.log(
    `bench broker flows_per_s=${(latencies.length / seconds).toFixed(0)} p50_ms=${pct(0.5).toFixed(1)} p99_ms=${pct(0.99).toFixed(1)} errors=${errors}`,
  )
} finally {
  for (const r of replicas) {
    r.kill('SIGTERM')
    await r.exited
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true })
  await database.drop()
}
