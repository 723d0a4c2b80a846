// `subrosa demo healthcare`: start the chain, send one record from the clerk, and report what each
// hop verified, the diagnosis, and one refusal (the same service token used twice).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isSubrosaError } from '@subrosa/core'
import { exchangeToken } from '@subrosa/sdk'
import { decodeJwt } from 'jose'
import type { PatientRecord } from '../../../../examples/healthcare/record.ts'
import { startHealthcareChain, WORKLOADS } from './chain.ts'

/** One verified hop of the chain. */
export type HopReport = {
  readonly from: string
  readonly to: string
  readonly verified: readonly string[]
}

/** The demo's report (`--json`). */
export type HealthcareDemoReport = {
  readonly ok: boolean
  /** Always true: the demo runs on the sim TEE, which protects nothing. */
  readonly insecure: true
  readonly broker: string
  readonly hops: readonly HopReport[]
  readonly diagnosis: {
    readonly recordId: string
    readonly diagnosis: string
    readonly pMalignant: number
    readonly expected: string
  }
  readonly refusals: readonly { readonly what: string; readonly code: string }[]
  readonly dir?: string
}

/** Options of {@link runHealthcareDemo}. */
export type HealthcareDemoOptions = {
  readonly dir?: string | undefined
  readonly keep?: boolean
  readonly say: (line: string) => void
}

/**
 * Run the chain once.
 *
 * @throws CliError `ERR_CLI_MISSING_TOOL` without redis-server; InferenceError
 * `ERR_INFER_DATASET` without python3-sklearn.
 */
export async function runHealthcareDemo(
  options: HealthcareDemoOptions,
): Promise<HealthcareDemoReport> {
  const say = options.say
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'subrosa-healthcare-')))
  say('WARNING: sim TEE: INSECURE, no hardware protection; for trying the chain out only.')
  const chain = await startHealthcareChain({ dir, say })
  try {
    const [record] = chain.sampleRecords(1) as [PatientRecord]
    const expected = chain.trained.test.y[0] === 1 ? 'malignant' : 'benign'
    const token = await exchangeToken(chain.client(), chain.clerkToken(), 'api')
    const { answer, api } = await chain.submit(record, { callerToken: token.token })
    const short = (hex: string) => `${hex.slice(0, 16)}…`
    const hops: HopReport[] = [
      {
        from: 'clerk',
        to: 'api',
        verified: [
          `token signed by the broker (${chain.broker.context.issuer}), workload ${WORKLOADS.api}`,
          `tee ${api.tee}${api.insecure ? ' (INSECURE)' : ''}, measurement ${short(api.measurement)}`,
          `TLS certificate sha256 ${api.tlsCertSha256} bound in the token`,
          'record encrypted to the attested key; answer encrypted to the clerk',
        ],
      },
      {
        from: 'api',
        to: 'caller',
        verified: [
          `caller token exchanged for audience api, subject ${String(decodeJwt(token.token).sub)}, used once`,
        ],
      },
      {
        from: 'api',
        to: 'redis',
        verified: [
          'mutual TLS, Redis certificate and API client certificate from the broker CA',
          `record sealed (AES-256-GCM) under pseudonym ${answer.cacheKey.slice(0, 26)}…`,
        ],
      },
      {
        from: 'api',
        to: 'diagnostics',
        verified: [
          `token signed by the broker, workload ${answer.diagnostics.workload}`,
          `tee ${answer.diagnostics.tee}${answer.diagnostics.insecure ? ' (INSECURE)' : ''}, measurement ${short(answer.diagnostics.measurement)}`,
          `TLS certificate sha256 ${answer.diagnostics.tlsCertSha256} bound in the token (${answer.diagnostics.url})`,
          'API token exchanged for audience diagnostics; features only, encrypted to the attested key',
        ],
      },
    ]
    for (const hop of hops) {
      say(`${hop.from} -> ${hop.to}`)
      for (const fact of hop.verified) say(`  verified: ${fact}`)
    }
    say(
      `diagnosis   ${answer.recordId}: ${answer.diagnosis} (p_malignant ${answer.pMalignant.toFixed(4)}; held-out label: ${expected})`,
    )
    const refusals: { what: string; code: string }[] = []
    try {
      await chain.submit(record, { callerToken: token.token })
      refusals.push({ what: 'the same service token again', code: 'ACCEPTED' })
    } catch (error) {
      const details = isSubrosaError(error) ? (error.details as { code?: unknown }) : {}
      refusals.push({ what: 'the same service token again', code: String(details?.code ?? '') })
    }
    for (const r of refusals) say(`refused     ${r.what}: ${r.code}`)
    const ok =
      answer.recordId === record.recordId && refusals.every((r) => r.code === 'ERR_TOKEN_REPLAY')
    return {
      ok,
      insecure: true,
      broker: chain.broker.url,
      hops,
      diagnosis: {
        recordId: answer.recordId,
        diagnosis: answer.diagnosis,
        pMalignant: answer.pMalignant,
        expected,
      },
      refusals,
      ...(options.dir !== undefined || options.keep === true ? { dir } : {}),
    }
  } finally {
    await chain.close()
    if (options.dir === undefined && options.keep !== true)
      await rm(dir, { recursive: true, force: true })
  }
}
