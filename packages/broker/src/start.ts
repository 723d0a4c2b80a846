import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Clock, type RandomBytes, systemClock, systemRandom } from '@subrosa/core'
import type { FastifyInstance } from 'fastify'
import type { JWK } from 'jose'
import { buildBrokerApp } from './app.ts'
import { issueServerCertificate } from './ca.ts'
import type { BrokerContext, LogEvent } from './context.ts'
import { assertNamespaceKeys, forgetNamespaceKeys } from './namespace-keys.ts'
import { registerOwner } from './owners.ts'
import { initOrUnseal, publicJwks } from './state.ts'
import { openPostgresStore } from './store/postgres.ts'
import { openPgliteStore } from './store/store.ts'

/** Version reported by the broker. */
export const BROKER_BUILD = 'subrosa-broker 0.1.0'

/** Options of {@link startBroker}. */
export type StartBrokerOptions = {
  /** Data directory (PGlite store, public CA certificate); in memory when undefined. */
  readonly dataDir?: string | undefined
  /**
   * PostgreSQL URL of the store instead of PGlite (`postgres://user@host:5432/db`): replicas with
   * the same unseal key and URL serve any request. The data directory still holds ca.pem.
   */
  readonly postgres?: string | undefined
  /** 32-byte key that seals the root key; the operator keeps it outside the data directory. */
  readonly unsealKey: Uint8Array
  readonly host?: string
  readonly port?: number
  /** Public URL (token issuer); defaults to `https://<host>:<port>`. */
  readonly publicUrl?: string
  /** Accept the insecure sim TEE (policies must accept it too). */
  readonly allowSim?: boolean
  /** Public JWKs of trusted sim platform keys. */
  readonly simTrustedKeys?: readonly JWK[]
  /** Collateral sources, trust roots and token issuers for hardware evidence and tokens. */
  readonly verification?: BrokerContext['verification']
  /** Owner public keys to register at start. */
  readonly owners?: readonly JWK[]
  readonly tokenTtlSeconds?: number
  readonly nonceTtlSeconds?: number
  readonly log?: (event: LogEvent) => void
  readonly clock?: Clock
  readonly random?: RandomBytes
}

/** A running broker. */
export type RunningBroker = {
  readonly url: string
  /** PEM of the broker CA: clients pin it. */
  readonly caPem: string
  readonly jwks: { keys: JWK[] }
  readonly ownerIds: readonly string[]
  readonly initialized: boolean
  readonly context: BrokerContext
  readonly app: FastifyInstance
  close(): Promise<void>
}

/**
 * Open or initialize the broker state, unseal it and serve HTTPS on a loopback (or given)
 * address with a fresh certificate from the broker CA.
 *
 * @throws BrokerError `ERR_BROKER_UNSEAL`, `ERR_BROKER_STATE`.
 */
export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const host = options.host ?? '127.0.0.1'
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
  const store =
    options.postgres === undefined
      ? await openPgliteStore(
          options.dataDir === undefined ? undefined : join(options.dataDir, 'pgdata'),
        )
      : await openPostgresStore(options.postgres)
  let app: FastifyInstance | undefined
  try {
    await assertNamespaceKeys(store.db)
    const keys = await initOrUnseal(store.db, options.unsealKey, clock, random)
    let issuer = options.publicUrl ?? ''
    const context: BrokerContext = {
      db: store.db,
      keys,
      clock,
      random,
      get issuer() {
        return issuer
      },
      allowSim: options.allowSim ?? false,
      simTrustedKeys: options.simTrustedKeys ?? [],
      verification: options.verification ?? {},
      tokenTtlSeconds: options.tokenTtlSeconds ?? 1800,
      nonceTtlSeconds: options.nonceTtlSeconds ?? 120,
      build: BROKER_BUILD,
      log: options.log ?? (() => {}),
    }
    const ownerIds: string[] = []
    for (const jwk of options.owners ?? []) ownerIds.push(await registerOwner(context, jwk))
    const hosts = [...new Set([host, '127.0.0.1', 'localhost'])]
    const tls = await issueServerCertificate(keys.ca, hosts, clock(), random(16))
    app = buildBrokerApp(context, { key: tls.keyPem, cert: tls.certPem })
    await app.listen({ host, port: options.port ?? 0 })
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : options.port
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`
    if (issuer === '') issuer = url
    if (options.dataDir !== undefined) {
      await writeFile(join(options.dataDir, 'ca.pem'), keys.ca.certPem, { mode: 0o644 })
      await writeFile(
        join(options.dataDir, 'broker.json'),
        `${JSON.stringify({ url, issuer, caFile: 'ca.pem' }, null, 2)}\n`,
      )
    }
    context.log({
      event: 'broker-started',
      url,
      initialized: keys.initialized,
      store: options.postgres === undefined ? 'pglite' : 'postgres',
      allowSim: context.allowSim,
    })
    if (options.postgres !== undefined && options.publicUrl === undefined)
      context.log({
        event: 'warning',
        message:
          'Replicas on PostgreSQL need one public URL (--public-url): tokens name it as issuer',
      })
    const running = app
    return {
      url,
      caPem: keys.ca.certPem,
      jwks: publicJwks(keys.signingKey),
      ownerIds,
      initialized: keys.initialized,
      context,
      app: running,
      close: async () => {
        await running.close()
        await store.close()
        forgetNamespaceKeys(keys)
        keys.rootKey.fill(0)
      },
    }
  } catch (error) {
    await app?.close()
    await store.close()
    throw error
  }
}
