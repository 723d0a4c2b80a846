import { createHash, timingSafeEqual } from 'node:crypto'
import { canonicalJson, fromBase64, toBase64, toHex, utf8 } from '@subrosa/core'
import { BrokerError } from './errors.ts'

/** `format` of a recovery share file. */
export const RECOVERY_SHARE_FORMAT = 'subrosa-recovery-share/v1'

/** One custodian's share as parsed from its file. */
export type RecoveryShare = {
  readonly broker: string
  readonly custodian: string
  readonly threshold: number
  readonly shares: number
  readonly index: number
  readonly bytes: Uint8Array
}

/** A share file to hand to its custodian: suggested file name and content (JSON text). */
export type RecoveryShareFile = {
  readonly custodian: string
  readonly fileName: string
  readonly text: string
}

/** The broker id in share files: the first 16 bytes (hex) of SHA-256 over the CA certificate DER. */
export function brokerIdOf(caCertPem: string): string {
  const body = caCertPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  return createHash('sha256').update(Buffer.from(body, 'base64')).digest('hex').slice(0, 32)
}

/** Encode a share as its self-describing file (JSON with a checksum over every other field). */
export function encodeRecoveryShare(share: RecoveryShare): string {
  const fields = shareFields(share)
  return `${JSON.stringify({ ...fields, checksum: checksum(fields) }, null, 2)}\n`
}

/**
 * Parse a share file and check its checksum, so a mistyped or corrupted share is named before
 * anything is combined.
 *
 * @throws BrokerError `ERR_BROKER_RECOVERY_SHARE`.
 */
export function parseRecoveryShare(text: string, source = 'share'): RecoveryShare {
  const bad = (why: string) =>
    new BrokerError('ERR_BROKER_RECOVERY_SHARE', `Recovery share ${source}: ${why}`)
  let doc: Record<string, unknown>
  try {
    doc = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw bad('not JSON')
  }
  if (typeof doc !== 'object' || doc === null || doc.format !== RECOVERY_SHARE_FORMAT)
    throw bad(`not a ${RECOVERY_SHARE_FORMAT} file`)
  const { broker, custodian, threshold, shares, index, share } = doc
  if (typeof broker !== 'string' || typeof custodian !== 'string' || typeof share !== 'string')
    throw bad('broker, custodian or share is missing')
  const ints = [threshold, shares, index]
  if (!ints.every((v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 255))
    throw bad('threshold, shares and index must be integers in 1..255')
  const bytes = fromBase64(share)
  if (bytes === undefined || bytes.length !== 32) throw bad('share is not 32 bytes of base64')
  const parsed: RecoveryShare = {
    broker,
    custodian,
    threshold: threshold as number,
    shares: shares as number,
    index: index as number,
    bytes,
  }
  const expected = utf8(checksum(shareFields(parsed)))
  const given = utf8(typeof doc.checksum === 'string' ? doc.checksum : '')
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw bad('checksum mismatch (mistyped or corrupted share)')
  return parsed
}

function shareFields(share: RecoveryShare) {
  return {
    format: RECOVERY_SHARE_FORMAT,
    broker: share.broker,
    custodian: share.custodian,
    threshold: share.threshold,
    shares: share.shares,
    index: share.index,
    share: toBase64(share.bytes),
  }
}

/** First 8 bytes (hex) of SHA-256 over the canonical JSON of the other fields. */
function checksum(fields: ReturnType<typeof shareFields>): string {
  return toHex(new Uint8Array(createHash('sha256').update(canonicalJson(fields)).digest())).slice(
    0,
    16,
  )
}
