import type { Clock } from '@subrosa/core'
import { systemClock } from '@subrosa/core'
import type { KmsClient } from '@subrosa/crypto'
import {
  decryptWithKey,
  type EarClaims,
  type Injection,
  injectionSchema,
  KBS_PROTOCOL_VERSION,
  KBS_SESSION_COOKIE,
  parseWire,
  type RuntimeData,
  reportDataFor,
  teePublicKeyOf,
  tlsCertificateSha256,
  verifyEarToken,
} from '@subrosa/protocol'
import { type BrokerClient, createWorkloadKms } from '@subrosa/sdk'
import { type CryptoKey, exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose'
import { LauncherError } from './errors.ts'
import type { TeeProvider } from './tee.ts'

/** An attested workload: its token, verified claims, and what it may now ask the broker for. */
export type AttestedWorkload = {
  readonly token: string
  readonly claims: EarClaims
  readonly insecure: boolean
  /**
   * The private half of the attested TEE key (non-extractable): what an attested service
   * decrypts requests with (the token's `akpub`).
   */
  readonly teePrivateKey: CryptoKey
  /** KmsClient whose unwrapped keys only this process can open. */
  readonly kms: KmsClient
  /** The policy's injection for this workload (env, files, key grants). */
  injection(): Promise<Injection>
  /** One secret by KBS resource path. */
  resource(namespace: string, policy: string, name: string): Promise<Uint8Array>
  /** End the job this token was issued for: the broker revokes every token of the job. */
  endJob(): Promise<void>
}

/**
 * Attest through the KBS flow: `auth` (nonce) -> an ephemeral EC P-256 key pair whose private
 * half never leaves this process -> evidence binding SHA-384 of `{nonce, tee-pubkey}` ->
 * `attest` -> an EAR token, verified against the broker's JWKS (fetched over the pinned TLS
 * connection) and checked to attest this key and nonce. With `tlsCertificate`, the runtime
 * data also binds `tls-cert-sha256` (SHA-256 of the DER certificate) and the token must carry it
 * as `subrosa.tls-cert-sha256`: callers then check that the service's TLS connection presents
 * that very certificate (SDK `attestedFetch`).
 *
 * @example
 * const attested = await attestWorkload({ client, workload: 'acme/health/diagnostics', tee,
 *   tlsCertificate: certPem })
 * attested.claims['subrosa.tls-cert-sha256'] // base64url SHA-256 of certPem's DER
 *
 * @throws BrokerCallError with the broker's code (e.g. `ERR_POLICY_DENIED`); LauncherError
 * `ERR_LAUNCHER_TOKEN`.
 */
export async function attestWorkload(options: {
  readonly client: BrokerClient
  /** `<namespace>/<policy>/<workload>` */
  readonly workload: string
  readonly tee: TeeProvider
  /** The job this workload runs for (a Spark application id): its tokens are revoked together. */
  readonly job?: string
  readonly clock?: Clock
  /** The TLS certificate (DER bytes or PEM) this workload serves with, to bind in the token. */
  readonly tlsCertificate?: Uint8Array | string
  /**
   * The TEE key pair to attest (EC P-256, ECDH-ES+A256KW), for a workload that also decrypts
   * requests sent to its attested key (the inference service). Default: a fresh non-extractable
   * pair that never leaves this function.
   */
  readonly keyPair?: { readonly privateKey: CryptoKey; readonly publicKey: CryptoKey }
}): Promise<AttestedWorkload> {
  const { client, tee } = options
  const clock = options.clock ?? systemClock
  const { privateKey, publicKey } =
    options.keyPair ?? (await generateKeyPair('ECDH-ES+A256KW', { extractable: false }))
  const { kty, crv, x, y } = await exportJWK(publicKey)
  const auth = await client.call(
    'POST',
    '/kbs/v0/auth',
    { kind: 'none' },
    {
      version: KBS_PROTOCOL_VERSION,
      tee: tee.tee,
      'extra-params': {
        workload: options.workload,
        ...(options.job === undefined ? {} : { job: options.job }),
      },
    },
  )
  const nonce = (auth.body as { nonce?: unknown }).nonce
  const cookie = sessionCookie(auth.headers['set-cookie'])
  if (typeof nonce !== 'string' || cookie === undefined)
    throw new LauncherError('ERR_LAUNCHER_TOKEN', 'KBS auth answered without a nonce or session')
  const runtimeData: RuntimeData = {
    nonce,
    'tee-pubkey': {
      kty: 'EC',
      crv: 'P-256',
      x: x as string,
      y: y as string,
      alg: 'ECDH-ES+A256KW',
    },
    ...(options.tlsCertificate === undefined
      ? {}
      : { 'tls-cert-sha256': tlsCertificateSha256(options.tlsCertificate) }),
  }
  if (kty !== 'EC' || crv !== 'P-256')
    throw new LauncherError('ERR_LAUNCHER_TEE', 'Unexpected TEE key type')
  const evidence = await tee.evidence(reportDataFor(runtimeData))
  const attested = await client.call(
    'POST',
    '/kbs/v0/attest',
    { kind: 'cookie', cookie },
    {
      'runtime-data': runtimeData,
      'tee-evidence': { primary_evidence: evidence },
    },
  )
  const token = (attested.body as { token?: unknown }).token
  const claims = await verifyOwnToken(client, token, clock, runtimeData)
  return {
    token: token as string,
    claims,
    insecure: claims['subrosa.insecure'],
    teePrivateKey: privateKey,
    kms: createWorkloadKms(client, token as string, privateKey),
    injection: async () => {
      const res = await client.call('GET', '/kbs/v0/workload', {
        kind: 'bearer',
        token: token as string,
      })
      return decryptJson(res.body, privateKey)
    },
    resource: async (namespace, policy, name) => {
      const path = `/kbs/v0/resource/${encodeURIComponent(namespace)}/${encodeURIComponent(policy)}/${encodeURIComponent(name)}`
      const res = await client.call('GET', path, { kind: 'bearer', token: token as string })
      return decryptWithKey(res.body, privateKey)
    },
    endJob: async () => {
      await client.call('POST', '/kbs/v0/job/end', { kind: 'bearer', token: token as string })
    },
  }
}

async function verifyOwnToken(
  client: BrokerClient,
  token: unknown,
  clock: Clock,
  runtimeData: RuntimeData,
): Promise<EarClaims> {
  const jwks = (await client.call('GET', '/.well-known/jwks.json', { kind: 'none' }))
    .body as JSONWebKeySet
  const info = (await client.call('GET', '/.well-known/subrosa-broker', { kind: 'none' })).body as {
    issuer?: unknown
  }
  if (typeof info.issuer !== 'string')
    throw new LauncherError('ERR_LAUNCHER_TOKEN', 'Broker does not state its issuer')
  let claims: EarClaims
  try {
    claims = await verifyEarToken(token, { jwks, issuer: info.issuer, now: clock() })
  } catch (cause) {
    throw new LauncherError(
      'ERR_LAUNCHER_TOKEN',
      'The broker token does not verify against its own JWKS',
      { cause },
    )
  }
  const attestedKey = teePublicKeyOf(claims)
  const ours = runtimeData['tee-pubkey']
  if (
    attestedKey.x !== ours.x ||
    attestedKey.y !== ours.y ||
    claims.eat_nonce !== runtimeData.nonce ||
    claims['subrosa.tls-cert-sha256'] !== runtimeData['tls-cert-sha256']
  ) {
    throw new LauncherError(
      'ERR_LAUNCHER_TOKEN',
      'The token does not attest this key, nonce and TLS certificate',
    )
  }
  return claims
}

async function decryptJson(body: unknown, key: CryptoKey): Promise<Injection> {
  const plaintext = await decryptWithKey(body, key)
  try {
    return parseWire(injectionSchema, JSON.parse(new TextDecoder().decode(plaintext)), 'injection')
  } catch (cause) {
    throw new LauncherError(
      'ERR_LAUNCHER_INJECTION',
      'The injection from the broker is malformed',
      { cause },
    )
  } finally {
    plaintext.fill(0)
  }
}

function sessionCookie(header: string | string[] | undefined): string | undefined {
  for (const line of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    const first = line.split(';')[0]?.trim()
    if (first?.startsWith(`${KBS_SESSION_COOKIE}=`)) return first
  }
  return undefined
}
