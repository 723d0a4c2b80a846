import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { systemRandom, toBase64Url, utf8 } from '@subrosa/core'
import {
  ADMIN_AUTH_SCHEME,
  createAdminProof,
  generateOwnerKey,
  type OwnerKey,
} from '@subrosa/protocol'
import type { FastifyInstance } from 'fastify'
import { buildBrokerApp } from '../app.ts'
import type { BrokerContext, LogEvent } from '../context.ts'
import { createLogger } from '../logging.ts'
import { BrokerMetrics } from '../metrics.ts'
import type { OperationsOptions } from '../operations.ts'
import { registerOwner } from '../owners.ts'
import { initOrUnseal } from '../state.ts'
import { openPostgresStore } from '../store/postgres.ts'
import { openPgliteStore, type Store } from '../store/store.ts'
import { createTestDatabase, defaultTestBackend, type TestBackend } from './postgres.ts'

/**
 * An in-process broker for tests: in-memory PGlite (or a fresh PostgreSQL database with
 * `backend: 'postgres'` or `SUBROSA_TEST_BACKEND=postgres`), no TLS, a settable clock.
 */
export type TestBroker = {
  readonly app: FastifyInstance
  readonly context: BrokerContext
  readonly owner: OwnerKey
  readonly sim: SimPlatformKey
  readonly store: Store
  /** Move the broker's clock. */
  setNow(date: Date): void
  now(): Date
  /** Inject an admin call signed by `signer` (default: the registered owner). */
  admin(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    body?: unknown,
    signer?: OwnerKey,
  ): Promise<Awaited<ReturnType<FastifyInstance['inject']>>>
  close(): Promise<void>
}

/** Start a test broker with one registered owner and one trusted sim platform key. */
export async function startTestBroker(
  options: {
    allowSim?: boolean
    start?: Date
    verification?: BrokerContext['verification']
    signedPoliciesOnly?: boolean
    /** Receives each log line as the broker writes it (redacted JSON). */
    logLine?: (line: string) => void
    operations?: OperationsOptions
    backend?: TestBackend
  } = {},
): Promise<TestBroker> {
  let now = options.start ?? new Date('2026-11-22T12:00:00Z')
  const clock = () => now
  const metrics = options.operations?.metrics ?? new BrokerMetrics(now)
  const store = await openTestStore(options.backend ?? defaultTestBackend())
  const keys = await initOrUnseal(store.db, systemRandom(32), clock, systemRandom)
  const owner = await generateOwnerKey()
  const sim = await generateSimPlatformKey()
  const context: BrokerContext = {
    db: store.db,
    keys,
    clock,
    random: systemRandom,
    issuer: 'https://broker.test',
    allowSim: options.allowSim ?? true,
    signedPoliciesOnly: options.signedPoliciesOnly ?? false,
    simTrustedKeys: [sim.publicJwk],
    verification: options.verification ?? {},
    tokenTtlSeconds: 1800,
    nonceTtlSeconds: 120,
    build: 'test',
    log: createLogger({
      write: options.logLine,
      observe: (e: LogEvent) => metrics.observe(e),
      now: clock,
    }),
  }
  await registerOwner(context, owner.publicJwk)
  const app = buildBrokerApp(context, undefined, { metrics, ...options.operations })
  await app.ready()
  return {
    app,
    context,
    owner,
    sim,
    store,
    setNow: (d) => {
      now = d
    },
    now: clock,
    async admin(method, url, body, signer = owner) {
      const payload = body === undefined ? '' : JSON.stringify(body)
      const proof = await createAdminProof(
        { method, path: url, body: utf8(payload) },
        signer,
        now,
        toBase64Url(systemRandom(18)),
      )
      return app.inject({
        method,
        url,
        headers: {
          authorization: `${ADMIN_AUTH_SCHEME} ${proof}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload }),
      })
    },
    async close() {
      await app.close()
      await store.close()
    },
  }
}

async function openTestStore(backend: TestBackend): Promise<Store> {
  if (backend === 'pglite') return openPgliteStore(undefined)
  const database = await createTestDatabase()
  const store = await openPostgresStore(database.url)
  return {
    db: store.db,
    close: async () => {
      await store.close()
      await database.drop()
    },
  }
}
