import type {
  Claims,
  ClaimsSource,
  SgxClaims,
  SimClaims,
  SnpClaims,
  SnpTcb,
  TdxClaims,
} from '../claims.ts'
import { type ClaimReader, claimError, claimReader, optional } from './claim-reader.ts'
import { tcbStatusOf } from './maa-claims.ts'

/** The EAR profile of Subrosa's own attestation-result tokens (draft-ietf-rats-ear). */
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear'

const ANNOTATED = 'ear.veraison.annotated-evidence'
const U8 = 0xff
const U16 = 0xffff
const U32 = 0xffffffff
const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** True when the token claims to follow the EAR profile. */
export function isEarPayload(payload: unknown): boolean {
  return claimReader(payload).optStr('eat_profile') === EAR_PROFILE
}

/**
 * Map a Subrosa EAR token back to the normalized claims its verifier annotated
 * (`submods.cpu0["ear.veraison.annotated-evidence"]`). A sim EAR comes back `insecure: true`;
 * `subrosa.insecure` must agree with the TEE (only sim is insecure), and `ear.status` must be
 * `affirming` or `warning` (a `contraindicated` or `none` appraisal is not a pass).
 *
 * @throws AttestError `ERR_ATTEST_TOKEN` for a missing, ill-typed or contradictory claim.
 */
export function claimsFromEar(payload: unknown, source: ClaimsSource): Claims {
  const token = claimReader(payload)
  if (token.str('eat_profile') !== EAR_PROFILE) {
    throw claimError('eat_profile', 'is not the EAR profile')
  }
  const cpu0 = token.obj('submods').obj('cpu0')
  const status = cpu0.str('ear.status')
  if (status !== 'affirming' && status !== 'warning') {
    throw claimError('submods.cpu0.ear.status', 'is not affirming or warning')
  }
  const insecure = token.bool('subrosa.insecure')
  const e = cpu0.obj(ANNOTATED)
  const tee = e.str('tee')
  const claimedTee = token.optStr('subrosa.tee')
  if (claimedTee !== undefined && claimedTee !== tee) {
    throw claimError('subrosa.tee', 'contradicts the annotated evidence')
  }
  if (e.optBool('insecure') !== undefined && e.optBool('insecure') !== insecure) {
    throw claimError(`${e.path}insecure`, 'contradicts subrosa.insecure')
  }
  if ((tee === 'sim') !== insecure) {
    throw claimError('subrosa.insecure', 'contradicts the TEE type')
  }
  if (tee === 'sim') return simClaims(e, source)
  if (tee === 'sgx') return sgxClaims(e, source)
  if (tee === 'tdx') return tdxClaims(e, source)
  if (tee === 'snp') return snpClaims(e, source)
  throw claimError(`${e.path}tee`, 'is not a known TEE type')
}

function common(e: ClaimReader) {
  return {
    debug: e.bool('debug'),
    ...optional('reportData', e.optHex('reportData', 64)),
    ...optional('tcbStatus', tcbStatusOf(e, 'tcbStatus')),
    ...optional('advisoryIds', e.optStrings('advisoryIds')),
    ...optional('platformId', e.optStr('platformId')),
  }
}

function intelPlatform(e: ClaimReader) {
  return {
    ...optional('fmspc', e.optHex('fmspc', 6)),
    ...optional('pceId', e.optHex('pceId', 2)),
    ...optional('pceSvn', e.optUint('pceSvn', U16)),
    ...optional('qeSvn', e.optUint('qeSvn', U16)),
    ...optional('qeStatus', tcbStatusOf(e, 'qeStatus')),
    ...optional('quoteVersion', e.optUint('quoteVersion', U16)),
  }
}

function simClaims(e: ClaimReader, source: ClaimsSource): SimClaims {
  return {
    tee: 'sim',
    insecure: true,
    ...common(e),
    measurement: e.hex('measurement', 48),
    svn: e.uint('svn', MAX_SAFE),
    reportData: e.hex('reportData', 64),
    platformKey: e.str('platformKey'),
    source,
  }
}

function sgxClaims(e: ClaimReader, source: ClaimsSource): SgxClaims {
  return {
    tee: 'sgx',
    insecure: false,
    ...common(e),
    mrenclave: e.hex('mrenclave', 32),
    mrsigner: e.hex('mrsigner', 32),
    isvProdId: e.uint('isvProdId', U16),
    isvSvn: e.uint('isvSvn', U16),
    ...optional('configSvn', e.optUint('configSvn', U16)),
    ...optional('configId', e.optHex('configId', 64)),
    ...optional('isvExtProdId', e.optHex('isvExtProdId', 16)),
    ...optional('isvFamilyId', e.optHex('isvFamilyId', 16)),
    ...optional('attributes', e.optHex('attributes', 16)),
    ...optional('miscselect', e.optUint('miscselect', U32)),
    ...optional('cpuSvn', e.optHex('cpuSvn', 16)),
    ...intelPlatform(e),
    source,
  }
}

function tdxClaims(e: ClaimReader, source: ClaimsSource): TdxClaims {
  const m = e.optObj('tdxModule')
  return {
    tee: 'tdx',
    insecure: false,
    ...common(e),
    mrtd: e.hex('mrtd', 48),
    rtmr0: e.hex('rtmr0', 48),
    rtmr1: e.hex('rtmr1', 48),
    rtmr2: e.hex('rtmr2', 48),
    rtmr3: e.hex('rtmr3', 48),
    mrconfigid: e.hex('mrconfigid', 48),
    mrowner: e.hex('mrowner', 48),
    mrownerconfig: e.hex('mrownerconfig', 48),
    mrseam: e.hex('mrseam', 48),
    mrsignerseam: e.hex('mrsignerseam', 48),
    teeTcbSvn: e.hex('teeTcbSvn', 16),
    tdAttributes: e.hex('tdAttributes', 8),
    xfam: e.hex('xfam', 8),
    seamAttributes: e.hex('seamAttributes', 8),
    ...optional(
      'tdxModule',
      m && {
        major: m.uint('major', U8),
        svn: m.uint('svn', U8),
        ...optional('identity', m.optStr('identity')),
      },
    ),
    ...optional('mrservicetd', e.optHex('mrservicetd', 48)),
    ...optional('teeTcbSvn2', e.optHex('teeTcbSvn2', 16)),
    ...intelPlatform(e),
    source,
  }
}

function snpTcb(e: ClaimReader, name: string): SnpTcb | undefined {
  const t = e.optObj(name)
  if (t === undefined) return undefined
  return {
    bootloader: t.uint('bootloader', U8),
    tee: t.uint('tee', U8),
    snp: t.uint('snp', U8),
    microcode: t.uint('microcode', U8),
    ...optional('fmc', t.optUint('fmc', U8)),
  }
}

function oneOf<T extends string>(
  e: ClaimReader,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = e.optStr(name)
  if (value === undefined) return undefined
  const found = values.find((v) => v === value)
  if (found === undefined) throw claimError(e.path + name, `is not one of ${values.join(', ')}`)
  return found
}

function snpClaims(e: ClaimReader, source: ClaimsSource): SnpClaims {
  return {
    tee: 'snp',
    insecure: false,
    ...common(e),
    measurement: e.hex('measurement', 48),
    guestSvn: e.uint('guestSvn', U32),
    vmpl: e.uint('vmpl', 3),
    ...optional('hostData', e.optHex('hostData', 32)),
    ...optional('idKeyDigest', e.optHex('idKeyDigest', 48)),
    ...optional('authorKeyDigest', e.optHex('authorKeyDigest', 48)),
    ...optional('familyId', e.optHex('familyId', 16)),
    ...optional('imageId', e.optHex('imageId', 16)),
    ...optional('reportId', e.optHex('reportId', 32)),
    ...optional('reportIdMa', e.optHex('reportIdMa', 32)),
    ...optional('policy', e.optHex('policy', 8)),
    ...optional('migrationAgent', e.optBool('migrationAgent')),
    ...optional('smtAllowed', e.optBool('smtAllowed')),
    ...optional('chipId', e.optHex('chipId', 64)),
    ...optional('product', oneOf(e, 'product', ['Milan', 'Genoa', 'Turin'] as const)),
    ...optional('signingKey', oneOf(e, 'signingKey', ['vcek', 'vlek'] as const)),
    ...optional('reportedTcb', snpTcb(e, 'reportedTcb')),
    ...optional('currentTcb', snpTcb(e, 'currentTcb')),
    ...optional('committedTcb', snpTcb(e, 'committedTcb')),
    ...optional('launchTcb', snpTcb(e, 'launchTcb')),
    ...optional('platformInfo', e.optHex('platformInfo', 8)),
    ...optional('smtEnabled', e.optBool('smtEnabled')),
    ...optional('reportVersion', e.optUint('reportVersion', U32)),
    source,
  }
}
