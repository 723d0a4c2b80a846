import { createHash } from 'node:crypto'
import { utf8 } from '@subrosa/core'
import { AttestError } from '../errors.ts'

/** One file of a workload bundle: a relative POSIX path and its bytes. */
export type BundleFile = { readonly path: string; readonly bytes: Uint8Array }

const DOMAIN = utf8('subrosa-bundle-v1\0')

/**
 * The sim TEE's measurement of a workload bundle: SHA-384 over the domain string and, for each
 * file in byte order of its path, `u32 BE path length | path | u64 BE size | bytes`. Any change
 * to a path, a byte, or the set of files changes the measurement.
 *
 * @example toHex(measureBundle([{ path: 'job.yaml', bytes: utf8('...') }]))
 * @throws AttestError `ERR_ATTEST_MALFORMED` for absolute, empty, `..` or duplicate paths.
 */
export function measureBundle(files: readonly BundleFile[]): Uint8Array {
  const entries = files.map((f) => ({
    path: checkPath(f.path),
    name: utf8(f.path),
    bytes: f.bytes,
  }))
  entries.sort((a, b) => Buffer.compare(a.name, b.name))
  const hash = createHash('sha384').update(DOMAIN)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as (typeof entries)[number]
    if (i > 0 && entries[i - 1]?.path === e.path) {
      throw new AttestError('ERR_ATTEST_MALFORMED', `Bundle lists ${e.path} twice`)
    }
    const head = new DataView(new ArrayBuffer(4))
    head.setUint32(0, e.name.length, false)
    const size = new DataView(new ArrayBuffer(8))
    size.setBigUint64(0, BigInt(e.bytes.length), false)
    hash.update(new Uint8Array(head.buffer)).update(e.name)
    hash.update(new Uint8Array(size.buffer)).update(e.bytes)
  }
  return new Uint8Array(hash.digest())
}

function checkPath(path: string): string {
  const parts = path.split('/')
  if (
    path === '' ||
    path.startsWith('/') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new AttestError(
      'ERR_ATTEST_MALFORMED',
      `Bundle path ${JSON.stringify(path)} is not a relative path`,
    )
  }
  return path
}
