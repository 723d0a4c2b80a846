// Broker verification settings from `broker start` flags: collateral files, PCS/PCCS and KDS
// endpoints, and trusted token issuers.
import { join, resolve } from 'node:path'
import type { CrlMode, TrustedIssuer } from '@subrosa/attest'
import type { BrokerContext } from '@subrosa/broker'
import {
  type CollateralFile,
  type CollateralSources,
  collateralSources,
  createCollateralCache,
  createKdsClient,
  createPcsClient,
  firstCollateralSource,
  onlineCollateralSources,
} from '@subrosa/sdk'
import { type Invocation, listOption, type OptionSpec, stringOption } from './command.ts'
import { readJson, readText } from './config.ts'
import { CliError } from './errors.ts'

/** The options `broker start` takes for hardware evidence and tokens. */
export const VERIFICATION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  collateral: {
    type: 'string',
    value: 'file',
    multiple: true,
    description:
      'Intel/AMD collateral: subrosa-collateral/v1 bundle or dcap-qvl JSON (checked first)',
  },
  pccs: {
    type: 'string',
    value: 'url',
    description:
      'Fetch Intel collateral from this PCCS or Intel PCS (https://api.trustedservices.intel.com)',
  },
  kds: {
    type: 'string',
    value: 'url',
    description: 'Fetch AMD VCEKs and CRLs from this KDS (https://kdsintf.amd.com)',
  },
  crls: {
    type: 'string',
    value: 'mode',
    description: 'Intel CRLs: required | not-provided (revocation then unknown)',
    default: 'required',
  },
  'token-issuer': {
    type: 'string',
    value: 'file',
    multiple: true,
    description: 'Trust this attestation token issuer (JSON: issuer, kind, jwks | x5cRoots)',
  },
  'token-audience': {
    type: 'string',
    value: 'aud',
    description: 'Required audience of attestation tokens',
  },
}

/** Verification settings for the broker; `cacheDir` keeps fetched collateral across restarts. */
export async function brokerVerification(
  inv: Invocation,
  cacheDir: string,
): Promise<BrokerContext['verification']> {
  const crls = crlMode(inv)
  const files = await readCollateralFiles(inv)
  const sources: CollateralSources[] = [collateralSources(files, { crls })]
  const pccs = stringOption(inv, 'pccs')
  const kds = stringOption(inv, 'kds')
  if (pccs !== undefined || kds !== undefined) {
    const cache = createCollateralCache({ dir: join(cacheDir), maxAgeSeconds: 86_400 })
    sources.push(
      onlineCollateralSources(
        {
          ...(pccs === undefined ? {} : { pcs: createPcsClient({ baseUrl: pccs, cache }) }),
          ...(kds === undefined ? {} : { kds: createKdsClient({ baseUrl: kds, cache }) }),
        },
        { crls },
      ),
    )
  }
  const issuers = await Promise.all(
    listOption(inv, 'token-issuer').map(async (f) =>
      trustedIssuer(await readJson(resolve(inv.io.cwd, f), 'a token issuer'), f),
    ),
  )
  const audience = stringOption(inv, 'token-audience')
  return {
    ...firstCollateralSource(...sources),
    ...(issuers.length === 0
      ? {}
      : { tokens: { issuers, ...(audience === undefined ? {} : { audience }) } }),
  }
}

/** `--crls`: whether Intel collateral must carry CRLs. */
export function crlMode(inv: Invocation): CrlMode {
  const crls = stringOption(inv, 'crls') ?? 'required'
  if (crls !== 'required' && crls !== 'not-provided')
    throw new CliError('ERR_CLI_USAGE', '--crls must be required or not-provided')
  return crls
}

/** The `--collateral` files, read. */
export function readCollateralFiles(inv: Invocation): Promise<CollateralFile[]> {
  return Promise.all(
    listOption(inv, 'collateral').map(async (name) => ({
      name,
      text: await readText(resolve(inv.io.cwd, name), 'a collateral file'),
    })),
  )
}

/**
 * A trusted issuer file: `{"issuer": "<iss>", "kind": "maa"|"ear"|"generic", "jwks": {...}}` or
 * `{..., "x5cRoots": ["-----BEGIN CERTIFICATE-----..."]}`, optionally `"algorithms": [...]`.
 */
export function trustedIssuer(value: unknown, file: string): TrustedIssuer {
  const bad = (why: string) => new CliError('ERR_CLI_FILE', `Token issuer ${file}: ${why}`)
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('not an object')
  const v = value as Record<string, unknown>
  const extra = Object.keys(v).find(
    (k) => !['issuer', 'kind', 'jwks', 'x5cRoots', 'algorithms'].includes(k),
  )
  if (extra !== undefined) throw bad(`unknown member ${JSON.stringify(extra.slice(0, 40))}`)
  if (typeof v.issuer !== 'string' || v.issuer === '') throw bad('issuer must be a string')
  if (v.kind !== 'maa' && v.kind !== 'ear' && v.kind !== 'generic')
    throw bad('kind must be maa, ear or generic')
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string')
  const jwks = v.jwks as { keys?: unknown } | undefined
  if (jwks !== undefined && (typeof jwks !== 'object' || !Array.isArray(jwks.keys)))
    throw bad('jwks must be {"keys": [...]}')
  if (v.x5cRoots !== undefined && !strings(v.x5cRoots)) throw bad('x5cRoots must be PEM strings')
  if (jwks === undefined && v.x5cRoots === undefined) throw bad('needs jwks or x5cRoots')
  if (v.algorithms !== undefined && !strings(v.algorithms)) throw bad('algorithms must be strings')
  return value as TrustedIssuer
}
