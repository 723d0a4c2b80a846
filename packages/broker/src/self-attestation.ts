import { createHash } from 'node:crypto'
import {
  createSimEvidence,
  generateSimPlatformKey,
  measureBundle,
  type SimPlatformKey,
} from '@subrosa/attest'
import { fromUtf8, type RandomBytes, toBase64Url, toHex, utf8 } from '@subrosa/core'
import { openSecret, sealSecret } from '@subrosa/crypto'
import {
  parseSelfAttestationNonce,
  SELF_ATTESTATION_BINDING,
  type SelfAttestationResponse,
  selfAttestationReportData,
} from '@subrosa/protocol'
import type { JWK } from 'jose'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import type { Db } from './store/store.ts'

const SIM_KEY = 'self-attestation-sim-key'

/** How the broker attests itself (sim only: no TEE hardware on this machine). */
export type SelfAttestation = {
  readonly tee: 'sim'
  /** Private sim platform key: the stand-in for TEE hardware. */
  readonly platformKey: JWK
  readonly publicJwk: JWK
  /** The sim measurement: `measureBundle([{ path: 'subrosa-broker', bytes: <build> }])`. */
  readonly measurement: Uint8Array
  /** PEM and DER of the broker's TLS server certificate (the one report_data binds). */
  readonly certificatePem: string
  readonly certificateDer: Uint8Array
}

/** `startBroker({ selfAttestation })`: a given sim platform key, or one kept in the state. */
export type SelfAttestationOptions = { readonly tee: 'sim'; readonly platformKey?: JWK | undefined }

/**
 * The self-attestation of a starting broker. Without a given platform key, the sim key is read
 * from the state (sealed under the root key), or generated and stored there on first use, so
 * clients can pin its public half across restarts.
 */
export async function prepareSelfAttestation(
  db: Db,
  rootKey: Uint8Array,
  options: SelfAttestationOptions,
  certificatePem: string,
  build: string,
  random: RandomBytes,
): Promise<SelfAttestation> {
  let platformKey = options.platformKey
  if (platformKey === undefined) {
    const row = (
      await db.query<{ value: Uint8Array }>('SELECT value FROM broker_state WHERE name = $1', [
        SIM_KEY,
      ])
    ).rows[0]
    if (row !== undefined) {
      platformKey = JSON.parse(fromUtf8(openSecret(rootKey, row.value, SIM_KEY))) as JWK
    } else {
      const generated: SimPlatformKey = await generateSimPlatformKey()
      platformKey = generated.privateJwk
      await db.query(
        'INSERT INTO broker_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
        [SIM_KEY, sealSecret(rootKey, utf8(JSON.stringify(platformKey)), SIM_KEY, random)],
      )
    }
  }
  if (typeof platformKey.d !== 'string')
    throw new BrokerError('ERR_BROKER_STATE', 'The self-attestation sim key must be a private JWK')
  const { d: _d, ...publicJwk } = platformKey
  return {
    tee: 'sim',
    platformKey,
    publicJwk,
    measurement: measureBundle([{ path: 'subrosa-broker', bytes: utf8(build) }]),
    certificatePem,
    certificateDer: pemToDer(certificatePem),
  }
}

/**
 * `GET /v1/attestation/self?nonce=`: the broker's own evidence, whose report data binds its TLS
 * certificate and the client's nonce (see `selfAttestationReportData`).
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` (nonce); BrokerError `ERR_BROKER_NOT_FOUND`
 * when self-attestation is not enabled.
 */
export async function attestSelf(
  ctx: BrokerContext,
  nonceText: unknown,
): Promise<SelfAttestationResponse> {
  const self = ctx.selfAttestation
  if (self === undefined)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', 'Self-attestation is not enabled on this broker')
  const nonce = parseSelfAttestationNonce(nonceText)
  const evidence = await createSimEvidence(
    {
      measurement: self.measurement,
      reportData: selfAttestationReportData(self.certificateDer, nonce),
      debug: false,
      svn: 0,
    },
    self.platformKey,
    ctx.clock(),
  )
  return {
    binding: SELF_ATTESTATION_BINDING,
    tee: self.tee,
    insecure: true,
    nonce: toBase64Url(nonce),
    evidence,
    certificate: self.certificatePem,
    certificateSha256: toHex(
      new Uint8Array(createHash('sha256').update(self.certificateDer).digest()),
    ),
    caCertificate: ctx.keys.ca.certPem,
    platformKey: self.publicJwk as Record<string, unknown>,
    build: ctx.build,
  }
}

function pemToDer(pem: string): Uint8Array {
  const match = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem)
  if (match === null)
    throw new BrokerError('ERR_BROKER_STATE', 'The TLS certificate is not a PEM certificate')
  return new Uint8Array(Buffer.from((match[1] as string).replace(/\s+/g, ''), 'base64'))
}
