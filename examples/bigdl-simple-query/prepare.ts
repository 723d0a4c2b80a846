// Writes data/policy.yaml: policy.yaml with the owner's key id and the sim measurement of
// job.yaml filled in, so the broker releases ppml/people and ppml/results to exactly this job.
//
//   node --import tsx examples/bigdl-simple-query/prepare.ts <owner.pub.jwk>
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { measureBundle } from '@subrosa/attest'
import { toHex } from '@subrosa/core'
import { ownerKeyId } from '@subrosa/protocol'

/** This example's directory. */
export const EXAMPLE_DIR = import.meta.dirname

/**
 * The sim TEE's measurement of a job file, as `subrosa run <job>` measures it (hex SHA-384).
 *
 * @example await jobMeasurement(join(EXAMPLE_DIR, 'job.yaml'))
 * @throws the file system's errors.
 */
export async function jobMeasurement(jobPath: string): Promise<string> {
  const bytes = new Uint8Array(await readFile(jobPath))
  const name = jobPath.split(/[\\/]/).pop() ?? 'job.yaml'
  return toHex(measureBundle([{ path: name, bytes }]))
}

/**
 * The policy text for an owner key and a job measurement.
 *
 * @example simpleQueryPolicy(template, 'urn:ietf:params:oauth:jwk-thumbprint:sha-256:...', 'ab12...')
 */
export function simpleQueryPolicy(template: string, ownerId: string, measurement: string): string {
  return template
    .replace('<owner key id>', ownerId)
    .replace('<measurement of job.yaml>', measurement)
}

/**
 * Write `<dir>/data/policy.yaml` for the owner whose public JWK is given; returns its path.
 *
 * @example await preparePolicy(EXAMPLE_DIR, ownerPublicJwk)
 * @throws the file system's errors; jose's for a JWK that is not a public key.
 */
export async function preparePolicy(
  dir: string,
  ownerPublicJwk: Parameters<typeof ownerKeyId>[0],
): Promise<string> {
  const template = await readFile(join(dir, 'policy.yaml'), 'utf8')
  const policy = simpleQueryPolicy(
    template,
    await ownerKeyId(ownerPublicJwk),
    await jobMeasurement(join(dir, 'job.yaml')),
  )
  await mkdir(join(dir, 'data'), { recursive: true })
  const out = join(dir, 'data', 'policy.yaml')
  await writeFile(out, policy)
  return out
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [owner] = process.argv.slice(2)
  if (owner === undefined) {
    process.stderr.write('usage: prepare.ts <owner.pub.jwk>\n')
    process.exit(2)
  }
  const jwk = JSON.parse(await readFile(owner, 'utf8')) as Parameters<typeof ownerKeyId>[0]
  process.stdout.write(`Wrote ${await preparePolicy(EXAMPLE_DIR, jwk)}\n`)
}
