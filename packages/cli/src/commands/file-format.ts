// Which format `subrosa encrypt` and `subrosa decrypt` use for a file: Parquet Modular Encryption
// for Parquet (PAR1, PARE), Subrosa's streaming AEAD format (SRSA) for everything else. Only the first four
// bytes are read.
import { extname } from 'node:path'
import type { ByteSource } from '@subrosa/crypto'
import type { Invocation } from '../command.ts'
import { stringOption } from '../command.ts'
import { CliError } from '../errors.ts'

/** The two ways a file is encrypted. */
export type FileFormat = 'parquet' | 'stream'

const FORMATS: readonly FileFormat[] = ['parquet', 'stream']

/** What the first bytes of a file say it is. */
export type Magic = 'parquet' | 'stream' | 'other'

/**
 * The magic at the start of `source`: `PAR1` (Parquet, plaintext or PME with a plaintext footer),
 * `PARE` (PME with an encrypted footer), `SRSA` (stream).
 *
 * @example await sniffMagic(source) // 'parquet'
 */
export async function sniffMagic(source: ByteSource): Promise<Magic> {
  if (source.size < 4) return 'other'
  const head = new TextDecoder('latin1').decode(await source.read(0, 4))
  return head === 'PAR1' || head === 'PARE' ? 'parquet' : head === 'SRSA' ? 'stream' : 'other'
}

/** `--format`, when given. @throws CliError `ERR_CLI_USAGE` for another value. */
export function formatOption(inv: Invocation): FileFormat | undefined {
  const value = stringOption(inv, 'format')
  if (value === undefined) return undefined
  if (!FORMATS.includes(value as FileFormat))
    throw new CliError('ERR_CLI_USAGE', `--format must be ${FORMATS.join(' or ')}, not ${value}`)
  return value as FileFormat
}

/**
 * The format to encrypt `path` in: `--format`, else Parquet for `PAR1`/`PARE` files and `.parquet`
 * names, else stream.
 *
 * @example formatToEncrypt('people.csv', 'other', undefined) // 'stream'
 * @throws CliError `ERR_CLI_USAGE` for a file that already is a stream file, unless `--format`
 * asks to encrypt it again.
 */
export function formatToEncrypt(
  path: string,
  magic: Magic,
  given: FileFormat | undefined,
): FileFormat {
  if (given !== undefined) return given
  if (magic === 'stream')
    throw new CliError(
      'ERR_CLI_USAGE',
      `${path} is already a Subrosa stream file (SRSA); pass --format stream to encrypt it again`,
    )
  return magic === 'parquet' || isParquetName(path) ? 'parquet' : 'stream'
}

/**
 * The format to decrypt `path` from: `--format`, else stream for `SRSA` files, Parquet for `PAR1`/`PARE`
 * files and `.parquet` names, else stream (which refuses a file without the SRSA magic).
 *
 * @example formatToDecrypt('people.csv.srsa', 'stream', undefined) // 'stream'
 */
export function formatToDecrypt(
  path: string,
  magic: Magic,
  given: FileFormat | undefined,
): FileFormat {
  if (given !== undefined) return given
  if (magic === 'stream') return 'stream'
  return magic === 'parquet' || isParquetName(path) ? 'parquet' : 'stream'
}

function isParquetName(path: string): boolean {
  return extname(path).toLowerCase() === '.parquet'
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  kib: 1024,
  m: 1 << 20,
  mib: 1 << 20,
}

/**
 * `--chunk-size`: bytes (`65536`) or with a unit (`64KiB`, `1MiB`), a power of two from 4 KiB to
 * 16 MiB.
 *
 * @example chunkSizeOption(inv) // 1048576 for --chunk-size 1MiB
 * @throws CliError `ERR_CLI_USAGE` for anything else.
 */
export function chunkSizeOption(inv: Invocation): number | undefined {
  const value = stringOption(inv, 'chunk-size')
  if (value === undefined) return undefined
  const m = /^(\d{1,9})\s*([a-z]*)$/i.exec(value.trim())
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()]
  const size = m === null || unit === undefined ? Number.NaN : Number(m[1]) * unit
  const log2 = Math.log2(size)
  if (!Number.isInteger(log2) || log2 < 12 || log2 > 24)
    throw new CliError(
      'ERR_CLI_USAGE',
      `--chunk-size must be a power of two from 4KiB to 16MiB (e.g. 1MiB), not ${value}`,
    )
  return size
}
