/** The TEE kinds Subrosa knows. */
export type TeeType = 'sim' | 'sgx' | 'tdx' | 'snp'

/**
 * Intel's TCB statuses (TCB Info / QE Identity, and the TDX convergence rules). `Revoked` is
 * reported rather than thrown so that verdicts can be explained, but no policy may accept it.
 * "No matching TCB level" is not a status: the verifier throws `ERR_ATTEST_TCB_NOT_SUPPORTED`.
 */
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'TDRelaunchAdvised'
  | 'TDRelaunchAdvisedConfigurationNeeded'
  | 'Revoked'

/** Where claims came from: hardware evidence verified here, or a token from a trusted issuer. */
export type ClaimsSource =
  | { readonly kind: 'evidence' }
  | {
      readonly kind: 'token'
      readonly issuer: string
      /** The token's own claims, for `rules` that name them (e.g. `x-ms-sgx-svn`). */
      readonly raw: Readonly<Record<string, unknown>>
    }

/** Fields every verifier fills. Hex is lower case. */
type CommonClaims = {
  /** True only for the sim TEE: no hardware root of trust at all. */
  readonly insecure: boolean
  /** Debug mode: SGX ATTRIBUTES.DEBUG, TD ATTRIBUTES.DEBUG, SNP POLICY.DEBUG. */
  readonly debug: boolean
  /** The 64 bytes of report data, 128 hex characters (absent when a token does not carry it). */
  readonly reportData?: string
  /** The platform TCB verdict, when the TEE has one (SGX, TDX). */
  readonly tcbStatus?: TcbStatus
  /** Intel security advisories that apply to this platform's TCB level, sorted. */
  readonly advisoryIds?: readonly string[]
  /** A stable platform identity: QE-ID or PPID (Intel), CHIP_ID (AMD). */
  readonly platformId?: string
  readonly source?: ClaimsSource
}

/**
 * Claims of verified `sim` evidence. `insecure` is always true: the sim TEE has no hardware root
 * of trust; anyone holding the platform key can forge evidence.
 */
export type SimClaims = CommonClaims & {
  readonly tee: 'sim'
  readonly insecure: true
  /** SHA-384 of the workload bundle, 96 hex characters. */
  readonly measurement: string
  readonly svn: number
  readonly reportData: string
  /** RFC 7638 thumbprint (base64url) of the sim platform key that signed the evidence. */
  readonly platformKey: string
}

/** Claims of a verified Intel SGX quote (or of a token describing an SGX enclave). */
export type SgxClaims = CommonClaims & {
  readonly tee: 'sgx'
  readonly insecure: false
  readonly mrenclave: string
  readonly mrsigner: string
  readonly isvProdId: number
  readonly isvSvn: number
  readonly configSvn?: number
  readonly configId?: string
  readonly isvExtProdId?: string
  readonly isvFamilyId?: string
  /** ATTRIBUTES (16 bytes, hex) and MISCSELECT. */
  readonly attributes?: string
  readonly miscselect?: number
  readonly cpuSvn?: string
  /** From the PCK certificate. */
  readonly fmspc?: string
  readonly pceId?: string
  readonly pceSvn?: number
  readonly qeSvn?: number
  readonly qeStatus?: TcbStatus
  readonly quoteVersion?: number
}

/** Claims of a verified Intel TDX quote. */
export type TdxClaims = CommonClaims & {
  readonly tee: 'tdx'
  readonly insecure: false
  readonly mrtd: string
  readonly rtmr0: string
  readonly rtmr1: string
  readonly rtmr2: string
  readonly rtmr3: string
  readonly mrconfigid: string
  readonly mrowner: string
  readonly mrownerconfig: string
  readonly mrseam: string
  readonly mrsignerseam: string
  /** TEE_TCB_SVN (16 bytes, hex); byte 1 is the TDX module major version, byte 0 its SVN. */
  readonly teeTcbSvn: string
  readonly tdAttributes: string
  readonly xfam: string
  readonly seamAttributes: string
  readonly tdxModule?: { readonly major: number; readonly svn: number; readonly identity?: string }
  /** TD 1.5 only. */
  readonly mrservicetd?: string
  readonly teeTcbSvn2?: string
  readonly fmspc?: string
  readonly pceId?: string
  readonly pceSvn?: number
  readonly qeSvn?: number
  readonly qeStatus?: TcbStatus
  readonly quoteVersion?: number
}

/** An SEV-SNP TCB version, decoded for the product's layout. */
export type SnpTcb = {
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
  /** Turin only. */
  readonly fmc?: number
}

/**
 * Claims of a verified AMD SEV-SNP attestation report. Fields a token may not carry are optional;
 * hardware evidence fills them all, and policies fail closed on a missing field they require.
 */
export type SnpClaims = CommonClaims & {
  readonly tee: 'snp'
  readonly insecure: false
  /** Launch digest, 96 hex characters. */
  readonly measurement: string
  readonly hostData?: string
  readonly idKeyDigest?: string
  readonly authorKeyDigest?: string
  readonly familyId?: string
  readonly imageId?: string
  readonly reportId?: string
  readonly reportIdMa?: string
  readonly guestSvn: number
  /** POLICY as the hex of the 64-bit value, and the decoded bits that matter. */
  readonly policy?: string
  readonly migrationAgent?: boolean
  readonly smtAllowed?: boolean
  readonly vmpl: number
  readonly chipId?: string
  readonly product?: 'Milan' | 'Genoa' | 'Turin'
  readonly signingKey?: 'vcek' | 'vlek'
  readonly reportedTcb?: SnpTcb
  readonly currentTcb?: SnpTcb
  readonly committedTcb?: SnpTcb
  readonly launchTcb?: SnpTcb
  readonly platformInfo?: string
  readonly smtEnabled?: boolean
  readonly reportVersion?: number
}

/** Claims out of any verifier, discriminated by `tee`. */
export type Claims = SimClaims | SgxClaims | TdxClaims | SnpClaims
