// Signatures over DER structures (CRLs) with node:crypto: ECDSA (DER r,s) and RSA PKCS#1 / PSS.
import { constants, type KeyObject, verify } from 'node:crypto'
import type { AttestErrorCode } from '../errors.ts'
import { CONTEXT, expect, fail, readOid, readSmallInt, TAG, type Tlv } from './der.ts'

const HASH_BY_OID: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
}
const ECDSA: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
}
const RSA_PKCS1: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
}
const RSA_PSS = '1.2.840.113549.1.1.10'
const MGF1 = '1.2.840.113549.1.1.8'

/** A signature algorithm node:crypto can run. */
export type SignatureAlgorithm =
  | { readonly kind: 'ecdsa'; readonly hash: string }
  | { readonly kind: 'rsa'; readonly hash: string }
  | { readonly kind: 'rsa-pss'; readonly hash: string; readonly saltLength: number }

function hashOf(algorithm: Tlv | undefined, code: AttestErrorCode, what: string): string {
  const node = expect(algorithm, TAG.sequence, code, what)
  const hash = HASH_BY_OID[readOid(node.children[0], code, what)]
  const params = node.children[1]
  if (hash === undefined || node.children.length > 2) fail(code, what)
  if (params !== undefined && (params.tag !== TAG.null || params.content.length !== 0)) {
    fail(code, what)
  }
  return hash
}

function explicit(params: Tlv, index: number): Tlv | undefined {
  const node = params.children.find((c) => c.tagClass === CONTEXT && c.tag === index)
  return node?.children[0]
}

/** Reads an AlgorithmIdentifier; unsupported algorithms (SHA-1, MD5, DSA) are refused. */
export function readSignatureAlgorithm(
  node: Tlv | undefined,
  code: AttestErrorCode,
  what: string,
): SignatureAlgorithm {
  const seq = expect(node, TAG.sequence, code, what)
  const oid = readOid(seq.children[0], code, what)
  const params = seq.children[1]
  if (seq.children.length > 2) fail(code, what)
  const ecdsa = ECDSA[oid]
  if (ecdsa !== undefined) {
    if (params !== undefined) fail(code, what)
    return { kind: 'ecdsa', hash: ecdsa }
  }
  const rsa = RSA_PKCS1[oid]
  if (rsa !== undefined) {
    if (params !== undefined && (params.tag !== TAG.null || params.content.length !== 0)) {
      fail(code, what)
    }
    return { kind: 'rsa', hash: rsa }
  }
  if (oid !== RSA_PSS || params === undefined) return fail(code, `${what} (algorithm ${oid})`)
  expect(params, TAG.sequence, code, what)
  for (const child of params.children) {
    if (child.tagClass !== CONTEXT || child.tag > 3 || child.children.length !== 1) fail(code, what)
  }
  const hashNode = explicit(params, 0)
  const mgfNode = explicit(params, 1)
  const saltNode = explicit(params, 2)
  const trailerNode = explicit(params, 3)
  if (hashNode === undefined || mgfNode === undefined) fail(code, what) // SHA-1 defaults
  const hash = hashOf(hashNode, code, what)
  const mgf = expect(mgfNode, TAG.sequence, code, what)
  if (readOid(mgf.children[0], code, what) !== MGF1 || mgf.children.length !== 2) fail(code, what)
  if (hashOf(mgf.children[1], code, what) !== hash) fail(code, what)
  const saltLength = saltNode === undefined ? 20 : readSmallInt(saltNode, code, what)
  if (trailerNode !== undefined && readSmallInt(trailerNode, code, what) !== 1) fail(code, what)
  return { kind: 'rsa-pss', hash, saltLength }
}

/** True when `signature` (DER ECDSA, or RSA) over `data` verifies with `key`; never throws. */
export function verifySignature(
  algorithm: SignatureAlgorithm,
  data: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
): boolean {
  try {
    if (algorithm.kind === 'ecdsa') {
      if (key.asymmetricKeyType !== 'ec') return false
      return verify(algorithm.hash, data, { key, dsaEncoding: 'der' }, signature)
    }
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return false
    if (algorithm.kind === 'rsa') {
      return verify(algorithm.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)
    }
    return verify(
      algorithm.hash,
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength },
      signature,
    )
  } catch {
    return false
  }
}
