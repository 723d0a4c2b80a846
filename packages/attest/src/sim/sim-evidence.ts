import type { KeyObject } from 'node:crypto'
import {
  compactJwsParts,
  es256PrivateKey,
  es256PublicKey,
  fromHex,
  signCompactEs256,
  toHex,
  verifiesEs256,
} from '@subrosa/core'
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
} from 'jose'
import type { SimClaims } from '../claims.ts'
import { AttestError } from '../errors.ts'

/** JWS `typ` of sim evidence, so no other JWS signed by the same key can pass as evidence. */
export const SIM_EVIDENCE_TYPE = 'subrosa-sim-evidence+jws'

/** What the (simulated) TEE attests to. */
export type SimStatement = {
  readonly measurement: Uint8Array
  readonly reportData: Uint8Array
  readonly debug: boolean
  readonly svn: number
}

/** A sim platform key pair as JWKs (EC P-256), with the public key's RFC 7638 thumbprint. */
export type SimPlatformKey = {
  readonly privateJwk: JWK
  readonly publicJwk: JWK
  readonly thumbprint: string
}

/** Generate a per-installation sim platform key. The private half plays the role of TEE hardware. */
export async function generateSimPlatformKey(): Promise<SimPlatformKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256' }
  const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256' }
  return { privateJwk, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk) }
}

const thumbprints = new WeakMap<JWK, Promise<string>>()
/** A trusted key, imported once per key object (`es256PublicKey`). */
function publicKeyOf(jwk: JWK): KeyObject {
  const key = es256PublicKey(jwk)
  if (key === undefined)
    throw new AttestError(
      'ERR_ATTEST_UNTRUSTED_KEY',
      'Cannot verify sim evidence: the trusted platform key is not an EC P-256 public key',
    )
  return key
}

/** RFC 7638 thumbprint of a trusted key, computed once per key object. */
function thumbprintOf(key: JWK): Promise<string> {
  let t = thumbprints.get(key)
  if (t === undefined) {
    t = calculateJwkThumbprint(key)
    thumbprints.set(key, t)
  }
  return t
}

/**
 * Produce sim evidence: a compact JWS (ES256) over `{tee, measurement, report_data, debug, svn,
 * iat}` signed with the sim platform key. INSECURE by construction: whoever holds the key forges.
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED` when the measurement is not 48 bytes or the report
 * data not 64 bytes.
 */
export async function createSimEvidence(
  statement: SimStatement,
  platformKey: JWK,
  now: Date,
): Promise<string> {
  if (statement.measurement.length !== 48) throw malformed('measurement must be 48 bytes (SHA-384)')
  if (statement.reportData.length !== 64) throw malformed('report data must be 64 bytes')
  if (!Number.isSafeInteger(statement.svn) || statement.svn < 0)
    throw malformed('svn must be a non-negative integer')
  const payload = {
    tee: 'sim',
    measurement: toHex(statement.measurement),
    report_data: toHex(statement.reportData),
    debug: statement.debug,
    svn: statement.svn,
    iat: Math.floor(now.getTime() / 1000),
  }
  const signer = await signerOf(platformKey)
  // Signed with node:crypto: a sim TEE makes evidence on every attestation, and jose's
  // WebCrypto signing costs several times the CPU.
  return signCompactEs256(
    { alg: 'ES256', typ: SIM_EVIDENCE_TYPE, kid: signer.kid },
    payload,
    signer.key,
  )
}

type Signer = { readonly key: KeyObject; readonly kid: string }

const signers = new WeakMap<JWK, Promise<Signer>>()

/** A platform key imported once per key object, with its public half's thumbprint as kid. */
function signerOf(platformKey: JWK): Promise<Signer> {
  let signer = signers.get(platformKey)
  if (signer === undefined) {
    signer = (async () => {
      const key = es256PrivateKey(platformKey)
      if (key === undefined) throw malformed('the sim platform key must be a private EC P-256 JWK')
      // RFC 7638 reads only the public members, so the private JWK has its public half's print.
      return { key, kid: await thumbprintOf(platformKey) }
    })()
    signers.set(platformKey, signer)
  }
  return signer
}

/** Options of {@link verifySimEvidence}. */
export type VerifySimOptions = {
  /** Public JWKs of the sim platform keys this verifier trusts. */
  readonly trustedKeys: readonly JWK[]
  /** Verification time. */
  readonly now: Date
  /** Oldest accepted evidence, in seconds before `now` (default 300). */
  readonly maxAgeSeconds?: number
}

const CLOCK_SKEW_SECONDS = 60

/**
 * Verify sim evidence and return its normalized claims (always `insecure: true`).
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED`, `ERR_ATTEST_UNTRUSTED_KEY`, `ERR_ATTEST_SIGNATURE`,
 * `ERR_ATTEST_EXPIRED`.
 */
export async function verifySimEvidence(
  evidence: unknown,
  options: VerifySimOptions,
): Promise<SimClaims> {
  if (typeof evidence !== 'string' || evidence.length > 8192)
    throw malformed('sim evidence must be a compact JWS string')
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(evidence)
  } catch (cause) {
    throw malformed('sim evidence is not a compact JWS', cause)
  }
  if (
    header.alg !== 'ES256' ||
    header.typ !== SIM_EVIDENCE_TYPE ||
    typeof header.kid !== 'string'
  ) {
    throw malformed(`sim evidence header must have alg ES256, typ ${SIM_EVIDENCE_TYPE} and a kid`)
  }
  let trusted: JWK | undefined
  for (const key of options.trustedKeys) {
    if ((await thumbprintOf(key)) === header.kid) trusted = key
  }
  if (trusted === undefined) {
    throw new AttestError(
      'ERR_ATTEST_UNTRUSTED_KEY',
      'Cannot verify sim evidence: its platform key is not trusted by this verifier',
    )
  }
  // Verified synchronously with node:crypto (jose's WebCrypto path costs several times the CPU
  // per verification, and the broker verifies evidence on every attestation).
  const jws = compactJwsParts(evidence)
  // A malformed signature fails as a bad signature, before the trusted key is even imported.
  if (jws === undefined || jws.signature.length !== 64 || !verifiesEs256(jws, publicKeyOf(trusted)))
    throw new AttestError(
      'ERR_ATTEST_SIGNATURE',
      'Cannot verify sim evidence: signature does not match the platform key',
    )
  const claims = parsePayload(jws.payload, header.kid)
  const age = options.now.getTime() / 1000 - claims.iat
  if (age < -CLOCK_SKEW_SECONDS || age > (options.maxAgeSeconds ?? 300)) {
    throw new AttestError(
      'ERR_ATTEST_EXPIRED',
      `Sim evidence issued ${Math.round(age)} s before verification time is outside the accepted window`,
    )
  }
  return claims.claims
}

function parsePayload(bytes: Uint8Array, kid: string): { claims: SimClaims; iat: number } {
  let doc: unknown
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (cause) {
    throw malformed('sim evidence payload is not JSON', cause)
  }
  if (typeof doc !== 'object' || doc === null)
    throw malformed('sim evidence payload is not an object')
  const p = doc as Record<string, unknown>
  const keys = Object.keys(p).sort().join(',')
  if (keys !== 'debug,iat,measurement,report_data,svn,tee')
    throw malformed(`sim evidence payload has fields ${keys}`)
  if (p.tee !== 'sim') throw malformed('sim evidence payload tee must be "sim"')
  if (typeof p.measurement !== 'string' || !/^[0-9a-f]{96}$/.test(p.measurement))
    throw malformed('measurement must be 96 lower-case hex characters')
  if (
    typeof p.report_data !== 'string' ||
    !/^[0-9a-f]{128}$/.test(p.report_data) ||
    fromHex(p.report_data) === undefined
  ) {
    throw malformed('report_data must be 128 lower-case hex characters')
  }
  if (typeof p.debug !== 'boolean') throw malformed('debug must be a boolean')
  if (typeof p.svn !== 'number' || !Number.isSafeInteger(p.svn) || p.svn < 0)
    throw malformed('svn must be a non-negative integer')
  if (typeof p.iat !== 'number' || !Number.isSafeInteger(p.iat))
    throw malformed('iat must be an integer')
  return {
    iat: p.iat,
    claims: {
      tee: 'sim',
      insecure: true,
      debug: p.debug,
      measurement: p.measurement,
      svn: p.svn,
      reportData: p.report_data,
      platformKey: kid,
    },
  }
}

function malformed(why: string, cause?: unknown): AttestError {
  return new AttestError(
    'ERR_ATTEST_MALFORMED',
    `Cannot parse sim evidence: ${why}`,
    cause === undefined ? {} : { cause },
  )
}
