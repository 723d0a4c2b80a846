import { invalid, isObject, type Json, type Report } from './shape.ts'

/** SCONE `tolerate` entries and the Intel TCB statuses they admit. */
const TOLERATED_TCB: Readonly<Record<string, readonly string[]>> = {
  'outdated-tcb': ['OutOfDate'],
  'software-hardening-needed': ['SWHardeningNeeded'],
  // Hyper-threading and an enabled integrated GPU show in Intel's TCB verdict as configuration
  // advisories (ConfigurationNeeded), as does an insecure configuration.
  'insecure-configuration': ['ConfigurationNeeded'],
  hyperthreading: ['ConfigurationNeeded'],
  'insecure-igpu': ['ConfigurationNeeded'],
}

/** Accept-clause options, TCB statuses and debug setting from `security.attestation`. */
export type AttestationMapping = {
  readonly clauseOptions: Json
  readonly tcb: readonly string[]
  readonly debug: 'deny' | 'allow'
}

/**
 * Map `security.attestation` (`mode`, `url`, `tolerate`, `ignore_advisories`) to the options every
 * sgx accept clause of the policy gets.
 */
export function mapAttestation(session: Json, report: Report): AttestationMapping {
  const { mapped, unsupported } = report
  const attestation = isObject(session.security) ? session.security.attestation : undefined
  if (session.security !== undefined && !isObject(session.security))
    invalid('security must be a mapping')
  if (isObject(session.security))
    for (const key of Object.keys(session.security))
      if (key !== 'attestation') unsupported.push(`security.${key}: not supported`)
  const clauseOptions: Json = {}
  const tcb = new Set<string>(['UpToDate'])
  let debug: 'deny' | 'allow' = 'deny'
  if (attestation !== undefined) {
    if (!isObject(attestation)) invalid('security.attestation must be a mapping')
    const mode = attestation.mode ?? 'hardware'
    if (mode === 'maa') {
      const url = attestation.url
      if (typeof url !== 'string') invalid('security.attestation.url is required with mode: maa')
      clauseOptions.issuer = url
      mapped.push(
        `security.attestation.mode maa, url -> accept[].issuer: ${url} (Azure Attestation tokens)`,
      )
    } else if (mode === 'hardware') {
      mapped.push(
        'security.attestation.mode hardware -> accept[].tee: sgx (quotes verified by the broker)',
      )
    } else unsupported.push(`security.attestation.mode ${String(mode)}: not supported`)
    for (const key of Object.keys(attestation))
      if (!['mode', 'url', 'tolerate', 'ignore_advisories'].includes(key))
        unsupported.push(`security.attestation.${key}: not supported`)
    const tolerate = attestation.tolerate ?? []
    if (!Array.isArray(tolerate)) invalid('security.attestation.tolerate must be a list')
    for (const t of tolerate) {
      const statuses = TOLERATED_TCB[String(t)]
      if (t === 'debug-mode') {
        debug = 'allow'
        mapped.push('tolerate debug-mode -> workloads[].debug: allow')
      } else if (t === 'maa-managed-tcb' && mode === 'maa') {
        clauseOptions.tcbFromIssuer = true
        mapped.push('tolerate maa-managed-tcb -> accept[].tcbFromIssuer: true')
      } else if (statuses !== undefined) {
        for (const s of statuses) tcb.add(s)
        mapped.push(`tolerate ${String(t)} -> accept[].tcb: + ${statuses.join(', ')}`)
      } else unsupported.push(`tolerate ${String(t)}: not supported`)
    }
    if (tcb.has('OutOfDate') && tcb.has('ConfigurationNeeded'))
      tcb.add('OutOfDateConfigurationNeeded')
    if (tcb.has('SWHardeningNeeded') && tcb.has('ConfigurationNeeded'))
      tcb.add('ConfigurationAndSWHardeningNeeded')
    const advisories = attestation.ignore_advisories
    if (advisories !== undefined) {
      const list =
        advisories === '*'
          ? ['*']
          : Array.isArray(advisories)
            ? advisories.map(String)
            : invalid('security.attestation.ignore_advisories must be "*" or a list')
      clauseOptions.allowAdvisories = list
      mapped.push(
        `ignore_advisories ${list.join(', ')} -> accept[].allowAdvisories: [${list.join(', ')}]`,
      )
    }
  }

  return { clauseOptions, tcb: [...tcb], debug }
}
