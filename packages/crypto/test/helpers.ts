// Test-only helpers for @subrosa/crypto: vectors, temp dirs, DuckDB. Not part of the library.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { DuckDBBlobValue, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api'
import { utf8 } from '@subrosa/core'
import type { ByteSource } from '../src/index.ts'

/**
 * ../shared/vectors/parquet-testing relative to the repository root (or under $SUBROSA_VECTORS);
 * read in place, never copied.
 */
export const PARQUET_VECTORS =
  process.env.SUBROSA_VECTORS === undefined
    ? new URL('../../../../shared/vectors/parquet-testing/', import.meta.url)
    : new URL(`file://${process.env.SUBROSA_VECTORS.replace(/\/?$/, '/')}parquet-testing/`)

/** Keys of parquet-testing (SOURCES.md): ASCII strings. */
export const VECTOR_KEYS = {
  footer128: utf8('0123456789012345'),
  footer256: utf8('01234567890123456789012345678901'),
  kc1_128: utf8('1234567890123450'),
  kc2_128: utf8('1234567890123451'),
} as const

/**
 * The key of a parquet-testing key id (`kf`, `kc1`..`kc8`), 128-bit files or `aes256/` ones
 * (SOURCES.md: the README's `{0,1,2,...}` are ASCII digits).
 */
export function vectorKey(id: string, aes256: boolean): Uint8Array | undefined {
  if (id === 'kf') return aes256 ? VECTOR_KEYS.footer256 : VECTOR_KEYS.footer128
  const n = /^kc([1-8])$/.exec(id)?.[1]
  if (n === undefined) return undefined
  if (!aes256) return n === '1' ? VECTOR_KEYS.kc1_128 : n === '2' ? VECTOR_KEYS.kc2_128 : undefined
  return utf8(`123456789012345678901234567890${String(11 + Number(n)).padStart(2, '0')}`)
}

/**
 * True when the parquet-testing vectors are present; otherwise skips the test with a message
 * (CI provides them; `.ci/run` warns when they are missing).
 */
export function haveVectors(t: TestContext): boolean {
  if (existsSync(new URL('data/', PARQUET_VECTORS))) return true
  t.skip(
    `parquet-testing vectors absent (${PARQUET_VECTORS.pathname}): set SUBROSA_VECTORS or provide ../shared/vectors`,
  )
  return false
}

export function readVector(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`data/${relative}`, PARQUET_VECTORS)))
}

/** A private temp directory removed by `cleanup()`. */
export function tempDir(): {
  path: string
  file(name: string, bytes?: Uint8Array): string
  cleanup(): void
} {
  const path = mkdtempSync(join(tmpdir(), 'subrosa-crypto-'))
  return {
    path,
    file(name, bytes) {
      const p = join(path, name)
      if (bytes !== undefined) writeFileSync(p, bytes)
      return p
    },
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  }
}

export function fileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path))
}

/** A source that records the largest single read, to check memory stays bounded. */
export function recordingSource(
  inner: ByteSource,
): ByteSource & { maxRead: number; reads: number } {
  const s = {
    size: inner.size,
    maxRead: 0,
    reads: 0,
    read: async (offset: number, length: number) => {
      s.maxRead = Math.max(s.maxRead, length)
      s.reads++
      return inner.read(offset, length)
    },
  }
  return s
}

export type TestDuckDb = {
  run(sql: string, params?: DuckDBValue[]): Promise<void>
  rows(sql: string, params?: DuckDBValue[]): Promise<Record<string, unknown>[]>
  close(): void
}

/** An in-memory DuckDB; keys go in as bound BLOB parameters only. */
export async function openTestDuckDb(): Promise<TestDuckDb> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const connection = await instance.connect()
  return {
    async run(sql, params) {
      await connection.run(sql, params)
    },
    async rows(sql, params) {
      return (await connection.runAndReadAll(sql, params)).getRowObjectsJson() as Record<
        string,
        unknown
      >[]
    },
    close() {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

export const blob = (bytes: Uint8Array): DuckDBValue => new DuckDBBlobValue(bytes)

/** SQL string literal for a path (test paths come from mkdtemp). */
export const sqlPath = (path: string): string => `'${path.replaceAll("'", "''")}'`
