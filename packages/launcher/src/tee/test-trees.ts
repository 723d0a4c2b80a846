// Test-only (not exported): directory trees that behave like configfs-tsm and Gramine's
// /dev/attestation, the test playing the kernel behind the TeeFiles seam, and the shared real
// vectors (../shared/vectors, read in place).
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { TestContext } from 'node:test'
import { nodeTeeFiles, type TeeFiles } from './tee-files.ts'

const override = process.env.SUBROSA_VECTORS
const VECTORS =
  override === undefined
    ? new URL('../../../../../shared/vectors/', import.meta.url)
    : new URL(`file://${override.replace(/\/?$/, '/')}`)

/** True when every named vector exists; otherwise skips the test naming what is missing. */
export function haveVectors(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !existsSync(new URL(n, VECTORS)))
  if (missing.length === 0) return true
  t.skip(
    `vectors absent (${missing.map((n) => new URL(n, VECTORS).pathname).join(', ')}): set SUBROSA_VECTORS or provide ../shared/vectors`,
  )
  return false
}

export function readVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, VECTORS)))
}

export function readVectorText(name: string): string {
  return readFileSync(new URL(name, VECTORS), 'utf8')
}

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code })
}

/** A temporary directory, removed by `dispose`. */
export async function tempDir(): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'subrosa-tee-'))
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) }
}

export type FakeTsmOptions = {
  /** The `provider` attribute; absent: no provider loaded (reads fail). */
  readonly provider?: string
  readonly outblob: Uint8Array
  readonly auxblob?: Uint8Array
  /** Another writer bumps `generation` while entry number `n` (from 0) is in use. */
  readonly raceOn?: (n: number) => boolean
  /** Attribute whose read fails with EIO (as when the host's quoting service is down). */
  readonly failRead?: string
}

export type FakeTsm = {
  readonly root: string
  readonly files: TeeFiles
  /** Every inblob written, in order. */
  readonly inblobs: Uint8Array[]
  /** Every report entry created, in order. */
  readonly entries: string[]
  /** Names left under <root>/report. */
  remaining(): Promise<string[]>
}

/**
 * A configfs-tsm tree under `parent`: `<root>/report/` exists; making an entry there creates its
 * attributes (provider, generation 0), writing `inblob` bumps `generation` and produces `outblob`
 * (and `auxblob`), removing the entry removes its attributes. Everything else is the real fs.
 */
export async function fakeConfigfsTsm(parent: string, options: FakeTsmOptions): Promise<FakeTsm> {
  const root = join(parent, 'tsm')
  const reports = join(root, 'report')
  await mkdir(reports, { recursive: true })
  const inblobs: Uint8Array[] = []
  const entries: string[] = []
  const isEntry = (path: string) => dirname(path) === reports
  const isAttribute = (path: string) => isEntry(dirname(path))
  const files: TeeFiles = {
    async mkdir(path) {
      await nodeTeeFiles.mkdir(path)
      if (!isEntry(path)) return
      entries.push(path)
      if (options.provider !== undefined)
        await writeFile(join(path, 'provider'), `${options.provider}\n`)
      await writeFile(join(path, 'generation'), '0\n')
    },
    async rmdir(path) {
      if (isEntry(path)) await rm(path, { recursive: true })
      else await rmdir(path)
    },
    async readFile(path) {
      if (isAttribute(path) && basename(path) === options.failRead) throw errno('EIO', path)
      if (isAttribute(path) && basename(path) === 'provider' && options.provider === undefined)
        throw errno('ENXIO', path)
      return nodeTeeFiles.readFile(path)
    },
    async writeFile(path, data) {
      if (!isAttribute(path)) return nodeTeeFiles.writeFile(path, data)
      if (basename(path) !== 'inblob') throw errno('EACCES', path)
      if (data.length > 64) throw errno('EINVAL', path)
      const entry = dirname(path)
      inblobs.push(Uint8Array.from(data))
      await writeFile(path, data)
      const generation = Number((await readFile(join(entry, 'generation'), 'utf8')).trim())
      const raced = options.raceOn?.(entries.indexOf(entry)) === true
      await writeFile(join(entry, 'generation'), `${generation + 1 + (raced ? 1 : 0)}\n`)
      await writeFile(join(entry, 'outblob'), options.outblob)
      if (options.auxblob !== undefined) await writeFile(join(entry, 'auxblob'), options.auxblob)
    },
    exists: nodeTeeFiles.exists,
  }
  return { root, files, inblobs, entries, remaining: () => readdir(reports) }
}

export type FakeGramine = {
  readonly root: string
  readonly files: TeeFiles
  /** Every user_report_data written, in order. */
  readonly written: Uint8Array[]
}

/**
 * Gramine's /dev/attestation under `parent`: `attestation_type` as given; writing 64 bytes to
 * `user_report_data` produces `quote`.
 */
export async function fakeGramine(
  parent: string,
  options: { readonly attestationType: string; readonly quote: Uint8Array },
): Promise<FakeGramine> {
  const root = join(parent, 'attestation')
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'attestation_type'), options.attestationType)
  const written: Uint8Array[] = []
  const files: TeeFiles = {
    ...nodeTeeFiles,
    async writeFile(path, data) {
      if (path !== join(root, 'user_report_data')) return nodeTeeFiles.writeFile(path, data)
      if (data.length !== 64) throw errno('EINVAL', path)
      written.push(Uint8Array.from(data))
      await writeFile(path, data)
      await writeFile(join(root, 'quote'), options.quote)
    },
  }
  return { root, files, written }
}

/** DER bytes of each PEM certificate in a text. */
export function pemCertificates(text: string): Uint8Array[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  return blocks.map(
    (b) => new Uint8Array(Buffer.from(b.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')),
  )
}

/** Build a certificate table (test fixtures and tooling): GUIDs in RFC 4122 byte order. */
export function buildSevCertTable(
  entries: readonly { readonly guid: string; readonly der: Uint8Array }[],
): Uint8Array {
  const header = (entries.length + 1) * 24
  const total = header + entries.reduce((n, e) => n + e.der.length, 0)
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  let offset = header
  entries.forEach((entry, i) => {
    const guid = entry.guid.replaceAll('-', '')
    if (!/^[0-9a-f]{32}$/i.test(guid)) throw new Error(`GUID ${entry.guid} is not a GUID`)
    for (let j = 0; j < 16; j++) {
      out[i * 24 + j] = Number.parseInt(guid.slice(j * 2, j * 2 + 2), 16)
    }
    view.setUint32(i * 24 + 16, offset, true)
    view.setUint32(i * 24 + 16 + 4, entry.der.length, true)
    out.set(entry.der, offset)
    offset += entry.der.length
  })
  return out
}
