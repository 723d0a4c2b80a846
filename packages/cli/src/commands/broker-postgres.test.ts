import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
// Test support of the broker package (fresh PostgreSQL database per test, or a skip reason).
import {
  createTestDatabase,
  postgresUnavailable,
  type TestDatabase,
} from '../../../broker/src/testing/postgres.ts'
import { cliEntry } from '../entry.ts'

const pgSkip = await postgresUnavailable()
if (pgSkip) process.stderr.write(`SKIP subrosa broker start --postgres: ${pgSkip}\n`)

type Started = { status: number; events: Record<string, unknown>[]; stderr: string }

/** Run `subrosa broker start ...` until it logs broker-started (then SIGTERM) or exits. */
function startAndStop(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const entry = cliEntry()
  return new Promise((resolve, reject) => {
    const child = spawn(
      entry.execPath,
      [...entry.execArgv, entry.main, 'broker', 'start', ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      },
    )
    let out = ''
    let stderr = ''
    let stopping = false
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      // One SIGTERM drains; a second would stop the broker at once.
      if (!stopping && out.includes('"event":"broker-started"')) {
        stopping = true
        child.kill('SIGTERM')
      }
    })
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({
        status: code ?? 1,
        events: out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
        stderr,
      }),
    )
  })
}

describe('subrosa broker start --postgres', { skip: pgSkip }, () => {
  let database: TestDatabase
  let dir: string
  before(async () => {
    database = await createTestDatabase()
    dir = await mkdtemp(join(tmpdir(), 'subrosa-cli-pg-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
    await database?.drop()
  })

  it('initializes state in PostgreSQL, restarts from it, and refuses another unseal key', async () => {
    const common = ['--data-dir', join(dir, 'a'), '--port', '0']
    const first = await startAndStop([
      ...common,
      '--postgres',
      database.url,
      '--unseal-key-file',
      join(dir, 'unseal.key'),
    ])
    assert.equal(first.status, 0, first.stderr)
    const started = first.events.find((e) => e.event === 'broker-started')
    assert.equal(started?.store, 'postgres')
    assert.equal(started?.initialized, true)
    const caPem = await readFile(join(dir, 'a', 'ca.pem'), 'utf8')

    // A second replica (own data dir, URL from the environment) unseals the same state.
    const b = [
      '--data-dir',
      join(dir, 'b'),
      '--port',
      '0',
      '--unseal-key-file',
      join(dir, 'unseal.key'),
    ]
    const env = { SUBROSA_POSTGRES: database.url }
    const second = await startAndStop([...b, '--postgres-pool', '2'], env)
    assert.equal(second.status, 0, second.stderr)
    assert.equal(second.events.find((e) => e.event === 'broker-started')?.initialized, false)
    assert.equal(await readFile(join(dir, 'b', 'ca.pem'), 'utf8'), caPem)

    const badPool = await startAndStop([...b, '--postgres-pool', '0'], env)
    assert.notEqual(badPool.status, 0)
    assert.match(badPool.stderr, /ERR_CLI_USAGE/)

    const wrong = await startAndStop([
      ...common,
      '--postgres',
      database.url,
      '--unseal-key-file',
      join(dir, 'other.key'),
    ])
    assert.notEqual(wrong.status, 0)
    assert.match(wrong.stderr, /ERR_BROKER_UNSEAL/)
  })
})
