// Test helpers: encrypt plaintext fixtures as a custodian would, and read outputs back as a
// granted consumer would. For tests only.
import { DuckDBBlobValue, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api'
import {
  decryptStreamWithKms,
  encryptParquetWithKms,
  encryptStreamWithKms,
  type KmsClient,
  memorySink,
  unwrapFooterKey,
} from '@subrosa/crypto'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'

/** Run SQL on a fresh in-memory DuckDB (plaintext reference results, fixture files). */
export async function duck(
  sql: string,
  values: DuckDBValue[] = [],
): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const db = await instance.connect()
  try {
    return (await db.runAndReadAll(sql, values)).getRowObjectsJson() as Record<string, unknown>[]
  } finally {
    db.closeSync()
    instance.closeSync()
  }
}

/** Encrypt a plaintext Parquet file as uniform PME under `masterKeyId`. */
export async function encryptParquetFile(
  plain: string,
  target: string,
  kms: KmsClient,
  masterKeyId: string,
  extra: Partial<Parameters<typeof encryptParquetWithKms>[2]> = {},
): Promise<void> {
  const source = await openFileSource(plain)
  const sink = await createAtomicFileSink(target)
  try {
    await encryptParquetWithKms(source, sink, {
      masterKeyId,
      kms,
      kmsInstanceId: 'test',
      kmsInstanceUrl: 'memory:',
      ...extra,
    })
    await sink.commit()
  } finally {
    await source.close()
  }
}

/** Encrypt any file in Subrosa's streaming AEAD format under `masterKeyId`. */
export async function encryptStreamFile(
  plain: string,
  target: string,
  kms: KmsClient,
  masterKeyId: string,
  chunkSize?: number,
): Promise<void> {
  const source = await openFileSource(plain)
  const sink = await createAtomicFileSink(target)
  try {
    await encryptStreamWithKms(source, sink, {
      kms,
      masterKeyId,
      ...(chunkSize === undefined ? {} : { chunkSize }),
    })
    await sink.commit()
  } finally {
    await source.close()
  }
}

/** The rows of a uniform PME Parquet file, read by DuckDB with its footer key. */
export async function readParquetFile(
  path: string,
  kms: KmsClient,
  orderBy = '1',
): Promise<Record<string, unknown>[]> {
  const source = await openFileSource(path)
  const { dek } = await unwrapFooterKey(source, kms)
  await source.close()
  return duck(
    `SELECT * FROM read_parquet('${path.replaceAll("'", "''")}', encryption_config = {footer_key_value: $1::BLOB}) ORDER BY ${orderBy}`,
    [new DuckDBBlobValue(dek)],
  )
}

/** The plaintext of a streaming AEAD file, as text. */
export async function readStreamFile(path: string, kms: KmsClient): Promise<string> {
  const source = await openFileSource(path)
  const sink = memorySink()
  try {
    await decryptStreamWithKms(source, sink, { kms })
  } finally {
    await source.close()
  }
  return new TextDecoder().decode(sink.bytes())
}
