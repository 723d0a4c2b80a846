// What collateral a quote needs, read from the quote itself (its PCK certificate), so that a
// verifier can look the collateral up before verifying.
import { AttestError } from '../errors.ts'
import { parsePemChain } from '../x509/certificate.ts'
import { parsePckExtensions } from './pck-extensions.ts'
import { parseQuote } from './quote.ts'

/** The key of the collateral one quote needs: Intel serves it by TEE, FMSPC and PCK CA. */
export type DcapCollateralRequest = {
  readonly tee: 'sgx' | 'tdx'
  /** Lower-case hex, 6 bytes. */
  readonly fmspc: string
  /** Lower-case hex, 2 bytes. */
  readonly pceId: string
  /** The PCK CA that issued the quote's PCK certificate. */
  readonly ca: 'platform' | 'processor'
}

/**
 * Reads which collateral a quote needs. Nothing is verified: the quote verifier checks that the
 * collateral it is then given is for this quote.
 *
 * @example const { tee, fmspc, ca } = dcapCollateralRequest(quoteBytes)
 * @throws AttestError `ERR_ATTEST_MALFORMED`, `ERR_ATTEST_UNSUPPORTED_TEE`, `ERR_ATTEST_CHAIN`
 */
export function dcapCollateralRequest(quoteBytes: Uint8Array): DcapCollateralRequest {
  const quote = parseQuote(quoteBytes)
  const leaf = parsePemChain(quote.pckChainPem)[0]
  if (leaf === undefined) {
    throw new AttestError('ERR_ATTEST_MALFORMED', 'The quote carries no PCK certificate', {
      details: { field: 'pckChain' },
    })
  }
  const pck = parsePckExtensions(leaf)
  const ca = /\bPCK Platform CA\b/.test(leaf.issuer)
    ? 'platform'
    : /\bPCK Processor CA\b/.test(leaf.issuer)
      ? 'processor'
      : undefined
  if (ca === undefined) {
    throw new AttestError('ERR_ATTEST_CHAIN', 'The PCK certificate is not from an Intel PCK CA', {
      details: { field: 'pckChain' },
    })
  }
  return { tee: quote.header.teeType, fmspc: pck.fmspc, pceId: pck.pceId, ca }
}
