import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Clock,
  isSubrosaError,
  type RandomBytes,
  systemClock,
  systemRandom,
} from '@subrosa/core'
import type { FastifyInstance } from 'fastify'
import type { JWK } from 'jose'
import { type BrokerHttps, buildBrokerApp, operationsOf } from './app.ts'
import { createAuditCheckpoint } from './audit-checkpoints.ts'
import { issueServerCertificate } from './ca.ts'
import type { BrokerContext, LogEvent } from './context.ts'
import { redactLogEvent } from './logging.ts'
import { BrokerMetrics } from './metrics.ts'
import { assertNamespaceKeys, forgetNamespaceKeys } from './namespace-keys.ts'
import { registerOwner } from './owners.ts'
import type { RateLimit } from './rate-limit.ts'
import { type RecoveryOptions, setUpRecoveryFiles } from './recovery.ts'
import type { RecoveryShareFile } from './recovery-share.ts'
import { prepareSelfAttestation, type SelfAttestationOptions } from './self-attestation.ts'
import { type ShutdownOptions, shutdownGracefully } from './shutdown.ts'
import { initOrUnseal, publicJwks } from './state.ts'
import { openPostgresStore } from './store/postgres.ts'
import { openPgliteStore } from './store/store.ts'

/** Host name or IP of a URL (brackets of IPv6 removed), or undefined when it is not a URL. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1') || undefined
  } catch {
    return undefined
  }
}

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
  /** PostgreSQL connections for requests (default 4); KBS session writes use half as many more. */
  readonly postgresPool?: number | undefined
  /** 32-byte key that seals the root key; the operator keeps it outside the data directory. */
  readonly unsealKey: Uint8Array
  /** Optional 32-byte operator key-encryption key wrapping the sealed root key (ADR 0011). */
  readonly kek?: Uint8Array | undefined
  /**
   * Split the root key into k-of-n custodian shares when the state has none yet; share files
   * (mode 0600) go to `sharesDir` when given, and are returned in `recoveryShares`.
   */
  readonly recovery?: (RecoveryOptions & { readonly sharesDir?: string | undefined }) | undefined
  /**
   * Serve `GET /v1/attestation/self` with sim evidence binding the TLS certificate and a client
   * nonce. Without `platformKey`, a sim key is generated once and kept sealed in the state.
   */
  readonly selfAttestation?: SelfAttestationOptions | undefined
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
  /** Refuse policy changes without enough owner approvals of their own (see `applyPolicy`). */
  readonly signedPoliciesOnly?: boolean
  /** Sign an audit checkpoint over new entries this often (seconds; 0 = only on export/close). */
  readonly auditCheckpointSeconds?: number
  /** Owner public keys to register at start. */
  readonly owners?: readonly JWK[]
  readonly tokenTtlSeconds?: number
  readonly nonceTtlSeconds?: number
  /** Receives every log event, already redacted (see `redactLogEvent`). */
  readonly log?: (event: LogEvent) => void
  /** Token bucket per client IP (health and metrics exempt); off when undefined. */
  readonly rateLimit?: RateLimit | undefined
  /** Token bucket per authenticated owner for admin and owner KMS calls; off when undefined. */
  readonly ownerRateLimit?: RateLimit | undefined
  /** PEM CA(s): when set, `/admin/*` requires a TLS client certificate chaining to it. */
  readonly adminClientCaPem?: string | undefined
  /** Browser origins allowed to call the broker (CORS): the portal's, e.g. `http://127.0.0.1:8080`. */
  readonly corsOrigins?: readonly string[] | undefined
  readonly clock?: Clock
  readonly random?: RandomBytes
}

/** A running broker. */
export type RunningBroker = {
  readonly url: string
  /** PEM of the broker CA: clients pin it. */
  readonly caPem: string
  readonly jwks: { keys: JWK[] }
  /** Public sim platform key of `GET /v1/attestation/self`, when enabled: clients pin it. */
  readonly selfAttestationKey: JWK | undefined
  readonly ownerIds: readonly string[]
  readonly initialized: boolean
  /** Share files created by this start (empty when recovery was already set up or not asked). */
  readonly recoveryShares: readonly (RecoveryShareFile & { readonly path?: string })[]
  readonly context: BrokerContext
  readonly app: FastifyInstance
  readonly metrics: BrokerMetrics
  close(): Promise<void>
  /**
   * Drain (`/readyz` 503), stop accepting, let in-flight requests finish within `graceMs`, then
   * close the store. Never rejects; resolves whether or not connections had to be cut.
   */
  shutdown(options?: ShutdownOptions): Promise<{ forced: boolean }>
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
      : await openPostgresStore(
          options.postgres,
          options.postgresPool === undefined ? {} : { maxConnections: options.postgresPool },
        )
  let app: FastifyInstance | undefined
  const metrics = new BrokerMetrics(clock())
  const log = (event: LogEvent) => {
    metrics.observe(event)
    options.log?.(redactLogEvent(event))
  }
  try {
    await assertNamespaceKeys(store.db)
    const keys = await initOrUnseal(store.db, options.unsealKey, clock, random, {
      kek: options.kek,
    })
    const recoveryShares =
      options.recovery === undefined
        ? []
        : await setUpRecoveryFiles(store.db, keys.rootKey, options.recovery, clock, random)
    let issuer = options.publicUrl ?? ''
    // The certificate also names the public URL's host, which clients in a cluster dial.
    const publicHost = options.publicUrl === undefined ? undefined : hostOf(options.publicUrl)
    const hosts = [
      ...new Set([host, ...(publicHost ? [publicHost] : []), '127.0.0.1', 'localhost']),
    ]
    const tls = await issueServerCertificate(keys.ca, hosts, clock(), random(16))
    const selfAttestation =
      options.selfAttestation === undefined
        ? undefined
        : await prepareSelfAttestation(
            store.db,
            keys.rootKey,
            options.selfAttestation,
            tls.certPem,
            BROKER_BUILD,
            random,
          )
    const context: BrokerContext = {
      db: store.db,
      keys,
      clock,
      random,
      get issuer() {
        return issuer
      },
      allowSim: options.allowSim ?? false,
      signedPoliciesOnly: options.signedPoliciesOnly ?? false,
      simTrustedKeys: options.simTrustedKeys ?? [],
      verification: options.verification ?? {},
      tokenTtlSeconds: options.tokenTtlSeconds ?? 1800,
      nonceTtlSeconds: options.nonceTtlSeconds ?? 120,
      build: BROKER_BUILD,
      log,
      selfAttestation,
    }
    const ownerIds: string[] = []
    for (const jwk of options.owners ?? []) ownerIds.push(await registerOwner(context, jwk))
    const https: BrokerHttps = { key: tls.keyPem, cert: tls.certPem }
    if (options.adminClientCaPem !== undefined) {
      // Ask every client for a certificate but let the handshake through without one: only
      // `/admin/*` requires it (checked per request), workloads and KMS callers need none.
      Object.assign(https, {
        ca: options.adminClientCaPem,
        requestCert: true,
        rejectUnauthorized: false,
      })
    }
    app = buildBrokerApp(context, https, {
      metrics,
      rateLimit: options.rateLimit,
      ownerRateLimit: options.ownerRateLimit,
      requireAdminClientCert: options.adminClientCaPem !== undefined,
      corsOrigins: options.corsOrigins,
    })
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
    const checkpoint = async () => {
      try {
        await createAuditCheckpoint(context)
      } catch (error) {
        context.log({
          event: 'audit-checkpoint-failed',
          code: isSubrosaError(error) ? error.code : 'internal',
        })
      }
    }
    const everySeconds = options.auditCheckpointSeconds ?? 300
    const timer = everySeconds > 0 ? setInterval(checkpoint, everySeconds * 1000) : undefined
    timer?.unref()
    context.log({
      event: 'broker-started',
      url,
      initialized: keys.initialized,
      store: options.postgres === undefined ? 'pglite' : 'postgres',
      allowSim: context.allowSim,
      recoveryFilesWritten: recoveryShares.length,
    })
    if (options.postgres !== undefined && options.publicUrl === undefined)
      context.log({
        event: 'warning',
        message:
          'Replicas on PostgreSQL need one public URL (--public-url): tokens name it as issuer',
      })
    const running = app
    let closed: Promise<void> | undefined
    const closeStore = () => {
      closed ??= (async () => {
        clearInterval(timer)
        await checkpoint()
        await store.close()
        forgetNamespaceKeys(keys)
        keys.rootKey.fill(0)
      })()
      return closed
    }
    return {
      url,
      caPem: keys.ca.certPem,
      jwks: publicJwks(keys.signingKey),
      selfAttestationKey: selfAttestation?.publicJwk,
      ownerIds,
      initialized: keys.initialized,
      recoveryShares,
      context,
      app: running,
      metrics,
      close: async () => {
        clearInterval(timer)
        await running.close()
        await closeStore()
      },
      shutdown: (shutdownOptions) =>
        shutdownGracefully(
          running,
          operationsOf(running),
          context.log,
          closeStore,
          shutdownOptions,
        ),
    }
  } catch (error) {
    await app?.close()
    await store.close()
    throw error
  }
}
