/** The TEE kinds Subrosa knows. Only `sim` is produced today; the hardware verifiers arrive with #3. */
export type TeeType = 'sim' | 'sgx' | 'tdx' | 'snp'

/**
 * Normalized claims of verified `sim` evidence. `insecure` is always true: the sim TEE has no
 * hardware root of trust, anyone holding the platform key can forge evidence.
 */
export type SimClaims = {
  readonly tee: 'sim'
  readonly insecure: true
  /** Whether the (simulated) TEE runs in debug mode. */
  readonly debug: boolean
  /** SHA-384 of the workload bundle, 96 lower-case hex characters. */
  readonly measurement: string
  /** Security version number of the workload. */
  readonly svn: number
  /** The 64 bytes of report data, 128 lower-case hex characters. */
  readonly reportData: string
  /** RFC 7638 thumbprint (base64url) of the sim platform key that signed the evidence. */
  readonly platformKey: string
}

/** Claims out of any verifier, discriminated by `tee`. */
export type Claims = SimClaims
