// The encrypted halves of the transcoder: reading a PME file with the keys a retriever gives
// (decrypt) and writing one under an encryption plan (encrypt). Every module is authenticated
// with its spec AAD before any of it is used.
import { concatBytes, type RandomBytes, toHex } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import { type ByteSource, type RangeReader, readExact } from './byte-io.ts'
import { type KeyRetriever, type OpenedParquet, PAR1, PARE, signFooter } from './footer.ts'
import {
  COLUMN_CHUNK,
  COLUMN_META_DATA,
  type EncryptionAlgorithm,
  encodeColumnCryptoMetaData,
  encodeEncryptionAlgorithm,
  encodeFileCryptoMetaData,
  FILE_META_DATA,
  PAGE_HEADER,
  readColumnCryptoMetaData,
  readPageHeader,
} from './metadata.ts'
import {
  decryptModuleBody,
  decryptPageBody,
  encryptModule,
  encryptPageParts,
  MODULE_OVERHEAD,
  MODULE_TYPE,
  type ModuleCipher,
  moduleAad,
  moduleLength,
  nonceSource,
  type PmeAlgorithm,
  pageOverhead,
} from './modules.ts'
import {
  bloomBitsetLength,
  readPlainBloomFilter,
  readPlainPage,
  readPlainStruct,
  writePlainBloomFilter,
  writePlainPage,
} from './plain-side.ts'
import {
  binary,
  decodeStruct,
  encodeStruct,
  i32,
  optional,
  removeField,
  setField,
  type ThriftStruct,
} from './thrift-compact.ts'
import type { ChunkRef, PageRef, SinkSide, SourceSide } from './transcode.ts'

type Module =
  | 'page header'
  | 'data page'
  | 'dictionary page'
  | 'column metadata'
  | 'column index'
  | 'offset index'
  | 'bloom filter header'
  | 'bloom filter bitset'

function authFailure(module: Module, ref: Omit<ChunkRef, 'path'>, page?: number): never {
  const where = page === undefined ? '' : `page ${page} in `
  throw new CryptoError(
    'ERR_PARQUET_MODULE_AUTH',
    `The ${module} of ${where}column ${ref.column} of row group ${ref.rowGroup} failed authentication: wrong key, tampered, reordered or swapped`,
    {
      details: {
        module,
        rowGroup: ref.rowGroup,
        column: ref.column,
        ...(page === undefined ? {} : { page }),
      },
    },
  )
}

function badLength(module: Module, ref: Omit<ChunkRef, 'path'>): never {
  throw new CryptoError(
    'ERR_PARQUET_MALFORMED',
    `The ${module} module of column ${ref.column} in row group ${ref.rowGroup} has an impossible length`,
    { details: { module, rowGroup: ref.rowGroup, column: ref.column } },
  )
}

/** Read a `len | body` module from a chunk reader; the body. */
async function takeModule(reader: RangeReader, module: Module, ref: PageRef): Promise<Uint8Array> {
  const length = moduleLength(reader.takeLoaded(4) ?? (await reader.take(4)))
  if (length < MODULE_OVERHEAD - 4 || length > reader.remaining) badLength(module, ref)
  return reader.takeLoaded(length) ?? reader.take(length)
}

/** Read a `len | body` module at a file offset; the body. */
async function moduleAt(
  source: ByteSource,
  offset: number,
  end: number,
  module: Module,
  ref: ChunkRef,
): Promise<Uint8Array> {
  if (offset + 4 > end) badLength(module, ref)
  const length = moduleLength(await readExact(source, offset, 4))
  if (length < MODULE_OVERHEAD - 4 || offset + 4 + length > end) badLength(module, ref)
  return readExact(source, offset + 4, length)
}

const INDEX_TYPE = {
  'column-index': MODULE_TYPE.COLUMN_INDEX,
  'offset-index': MODULE_TYPE.OFFSET_INDEX,
} as const

/**
 * Reading a PME file: the footer cipher, and per column its key from the retriever (cached by
 * key metadata and path). Columns without a key are dropped or refused, as `unreadable` says.
 */
export function encryptedSource(
  source: ByteSource,
  opened: OpenedParquet,
  options: { keyRetriever: KeyRetriever; unreadable: 'error' | 'drop' },
): SourceSide {
  const dataEnd = opened.tail.footerStart
  const footer: ModuleCipher = {
    key: opened.footerKey,
    algorithm: opened.algorithm.name,
    fileAad: opened.fileAad,
  }
  const ciphers = new Map<string, ModuleCipher | undefined>()
  const keys = new Map<string, Uint8Array | undefined>()
  const cipherOf = (ref: Omit<ChunkRef, 'path'>) => ciphers.get(`${ref.rowGroup}/${ref.column}`)
  const decryptMeta = (cipher: ModuleCipher, module: Uint8Array, ref: Omit<ChunkRef, 'path'>) => {
    if (module.length < MODULE_OVERHEAD || moduleLength(module) !== module.length - 4) {
      badLength('column metadata', ref)
    }
    const plain = decryptModuleBody(
      cipher.key,
      module.subarray(4),
      moduleAad(cipher.fileAad, MODULE_TYPE.COLUMN_META_DATA, ref.rowGroup, ref.column),
    )
    if (plain === undefined) authFailure('column metadata', ref)
    return decodeStruct(plain).value
  }
  return {
    async columnMeta(chunk, ref) {
      const crypto = readColumnCryptoMetaData(chunk)
      const plainMeta = optional(chunk, COLUMN_CHUNK.metaData, 'struct', 'ColumnChunk.meta_data')
      const encrypted = optional(
        chunk,
        COLUMN_CHUNK.encryptedColumnMetadata,
        'binary',
        'encrypted_column_metadata',
      )?.value
      let cipher: ModuleCipher | undefined
      if (crypto?.kind === 'footer-key') cipher = footer
      else if (crypto?.kind === 'column-key') {
        const id = `${toHex(crypto.keyMetadata ?? new Uint8Array(0))}/${crypto.pathInSchema.join('\u0000')}`
        if (!keys.has(id)) {
          const key = await options.keyRetriever(crypto.keyMetadata, {
            kind: 'column',
            path: crypto.pathInSchema,
          })
          if (key !== undefined) gcmCipher(key, `key of column ${crypto.pathInSchema.join('.')}`)
          keys.set(id, key)
        }
        const key = keys.get(id)
        if (key === undefined) {
          if (options.unreadable === 'drop') return undefined
          throw new CryptoError(
            'ERR_PARQUET_KEY_UNAVAILABLE',
            `No key is available for column ${crypto.pathInSchema.join('.')}`,
            { details: { column: crypto.pathInSchema.join('.') } },
          )
        }
        cipher = { ...footer, key }
      }
      ciphers.set(`${ref.rowGroup}/${ref.column}`, cipher)
      if (cipher !== undefined && encrypted !== undefined)
        return decryptMeta(cipher, encrypted, ref)
      if (plainMeta === undefined) {
        throw new CryptoError(
          'ERR_PARQUET_MALFORMED',
          `Column ${ref.column} of row group ${ref.rowGroup} has no column metadata`,
        )
      }
      return plainMeta.value
    },

    async readPage(ref, reader) {
      const cipher = cipherOf(ref)
      if (cipher === undefined) return readPlainPage(reader)
      const body = await takeModule(reader, 'page header', ref)
      const aad = (type: number, page?: number) =>
        moduleAad(cipher.fileAad, type, ref.rowGroup, ref.column, page)
      // Only the first page may be a dictionary page; the AAD that opens it says which it is.
      // Try first what the chunk's metadata announces: each failed try is a GCM pass and a throw.
      const openAs = (asDictionary: boolean) =>
        decryptModuleBody(
          cipher.key,
          body,
          asDictionary
            ? aad(MODULE_TYPE.DICTIONARY_PAGE_HEADER)
            : aad(MODULE_TYPE.DATA_PAGE_HEADER, ref.ordinal),
        )
      let dictionary = ref.first && ref.dictionaryLikely === true
      let plainHeader = openAs(dictionary)
      if (plainHeader === undefined && ref.first) {
        dictionary = !dictionary
        plainHeader = openAs(dictionary)
      }
      if (plainHeader === undefined) authFailure('page header', ref, ref.ordinal)
      // Trailing bytes are tolerated (parquet-mr 1.17 pads encrypted headers with zeros).
      const header = decodeStruct(plainHeader).value
      const info = readPageHeader(header)
      const module: Module = dictionary ? 'dictionary page' : 'data page'
      const prefix = reader.takeLoaded(4) ?? (await reader.take(4))
      if (
        info.compressedPageSize < pageOverhead(cipher.algorithm) ||
        moduleLength(prefix) !== info.compressedPageSize - 4
      ) {
        badLength(module, ref)
      }
      const page = decryptPageBody(
        cipher,
        reader.takeLoaded(info.compressedPageSize - 4) ??
          (await reader.take(info.compressedPageSize - 4)),
        dictionary ? aad(MODULE_TYPE.DICTIONARY_PAGE) : aad(MODULE_TYPE.DATA_PAGE, ref.ordinal),
      )
      if (page === undefined) authFailure(module, ref, ref.ordinal)
      return { header, page, dictionary }
    },

    async readIndex(kind, ref, at) {
      const cipher = cipherOf(ref)
      if (cipher === undefined) return readPlainStruct(source, at, dataEnd)
      const module: Module = kind === 'column-index' ? 'column index' : 'offset index'
      const body = await moduleAt(source, at.offset, dataEnd, module, ref)
      const plain = decryptModuleBody(
        cipher.key,
        body,
        moduleAad(cipher.fileAad, INDEX_TYPE[kind], ref.rowGroup, ref.column),
      )
      if (plain === undefined) authFailure(module, ref)
      return decodeStruct(plain).value
    },

    async readBloomFilter(ref, at) {
      const cipher = cipherOf(ref)
      const what = `column ${ref.column} in row group ${ref.rowGroup}`
      if (cipher === undefined) return readPlainBloomFilter(source, at, dataEnd, what)
      const aad = (type: number) => moduleAad(cipher.fileAad, type, ref.rowGroup, ref.column)
      const headerBody = await moduleAt(source, at.offset, dataEnd, 'bloom filter header', ref)
      const plainHeader = decryptModuleBody(
        cipher.key,
        headerBody,
        aad(MODULE_TYPE.BLOOM_FILTER_HEADER),
      )
      if (plainHeader === undefined) authFailure('bloom filter header', ref)
      const header = decodeStruct(plainHeader).value
      const bitsetAt = at.offset + 4 + headerBody.length
      const bitsetBody = await moduleAt(source, bitsetAt, dataEnd, 'bloom filter bitset', ref)
      const bitset = decryptModuleBody(cipher.key, bitsetBody, aad(MODULE_TYPE.BLOOM_FILTER_BITSET))
      if (bitset === undefined) authFailure('bloom filter bitset', ref)
      if (bitset.length !== bloomBitsetLength(header, what)) badLength('bloom filter bitset', ref)
      return { header, bitset }
    },
  }
}

/** One column's key in an encryption plan. */
export type ColumnKey = { readonly key: Uint8Array; readonly keyMetadata?: Uint8Array }

/** How a file is encrypted: what {@link encryptedSink} writes. */
export type EncryptionPlan = {
  readonly algorithm: PmeAlgorithm
  readonly footerKey: Uint8Array
  readonly footerKeyMetadata?: Uint8Array
  /** By dotted column path. */
  readonly columnKeys: ReadonlyMap<string, ColumnKey>
  /** Columns without their own key: encrypted with the footer key, or left in plaintext. */
  readonly otherColumns: 'footer-key' | 'plaintext'
  readonly plaintextFooter: boolean
  readonly aadPrefix?: Uint8Array
  readonly storeAadPrefix: boolean
  readonly aadFileUnique: Uint8Array
  readonly random: RandomBytes
}

/** ColumnMetaData fields a plaintext footer must not show for an encrypted column. */
const SENSITIVE_META = [
  COLUMN_META_DATA.statistics,
  COLUMN_META_DATA.encodingStats,
  COLUMN_META_DATA.sizeStatistics,
  COLUMN_META_DATA.geospatialStatistics,
]

/** Writing a PME file under `plan`. */
export function encryptedSink(plan: EncryptionPlan): SinkSide {
  const fileAad = concatBytes(plan.aadPrefix ?? new Uint8Array(0), plan.aadFileUnique)
  const algorithm: EncryptionAlgorithm = {
    name: plan.algorithm,
    ...(plan.aadPrefix !== undefined && plan.storeAadPrefix ? { aadPrefix: plan.aadPrefix } : {}),
    aadFileUnique: plan.aadFileUnique,
    supplyAadPrefix: plan.aadPrefix !== undefined && !plan.storeAadPrefix,
  }
  const footer: ModuleCipher = { key: plan.footerKey, algorithm: plan.algorithm, fileAad }
  const random = nonceSource(plan.random)
  const keyOf = (ref: ChunkRef): (ColumnKey & { own: boolean }) | undefined => {
    const own = plan.columnKeys.get(ref.path.join('.'))
    if (own !== undefined) return { ...own, own: true }
    return plan.otherColumns === 'footer-key' ? { key: plan.footerKey, own: false } : undefined
  }
  const cipherOf = (ref: ChunkRef): ModuleCipher | undefined => {
    const k = keyOf(ref)
    return k === undefined ? undefined : { ...footer, key: k.key }
  }
  const aad = (ref: ChunkRef, type: number, page?: number) =>
    moduleAad(fileAad, type, ref.rowGroup, ref.column, page)
  return {
    magic: plan.plaintextFooter ? PAR1 : PARE,

    async writePage(ref, { header, page, dictionary }, out) {
      const cipher = cipherOf(ref)
      if (cipher === undefined) return writePlainPage({ header, page, dictionary }, out)
      const ordinal = dictionary ? undefined : ref.ordinal
      const pageModule = encryptPageParts(
        cipher,
        page,
        aad(ref, dictionary ? MODULE_TYPE.DICTIONARY_PAGE : MODULE_TYPE.DATA_PAGE, ordinal),
        random,
      )
      let size = 0
      for (const part of pageModule) size += part.length
      // compressed_page_size counts the encrypted page as stored (parquet-java, Arrow).
      setField(header, PAGE_HEADER.compressedPageSize, i32(size))
      removeField(header, PAGE_HEADER.crc)
      const headerType = dictionary
        ? MODULE_TYPE.DICTIONARY_PAGE_HEADER
        : MODULE_TYPE.DATA_PAGE_HEADER
      await out.writeAll([
        encryptModule(cipher.key, encodeStruct(header), aad(ref, headerType, ordinal), random),
        ...pageModule,
      ])
    },

    async writeIndex(kind, ref, index, out) {
      const cipher = cipherOf(ref)
      if (cipher === undefined) return out.write(encodeStruct(index))
      await out.write(
        encryptModule(cipher.key, encodeStruct(index), aad(ref, INDEX_TYPE[kind]), random),
      )
    },

    async writeBloomFilter(ref, filter, out) {
      const cipher = cipherOf(ref)
      if (cipher === undefined) return writePlainBloomFilter(filter, out)
      const header = encodeStruct(filter.header)
      await out.write(
        encryptModule(cipher.key, header, aad(ref, MODULE_TYPE.BLOOM_FILTER_HEADER), random),
      )
      await out.write(
        encryptModule(cipher.key, filter.bitset, aad(ref, MODULE_TYPE.BLOOM_FILTER_BITSET), random),
      )
    },

    finishChunk(ref, chunk, meta) {
      const k = keyOf(ref)
      removeField(chunk, COLUMN_CHUNK.encryptedColumnMetadata)
      if (k === undefined) {
        setField(chunk, COLUMN_CHUNK.metaData, { type: 'struct', value: meta })
        removeField(chunk, COLUMN_CHUNK.cryptoMetadata)
        return
      }
      const crypto = encodeColumnCryptoMetaData(
        k.own
          ? {
              kind: 'column-key',
              pathInSchema: [...ref.path],
              ...(k.keyMetadata === undefined ? {} : { keyMetadata: k.keyMetadata }),
            }
          : { kind: 'footer-key' },
      )
      setField(chunk, COLUMN_CHUNK.cryptoMetadata, crypto)
      const separate = k.own || plan.plaintextFooter
      if (separate) {
        setField(
          chunk,
          COLUMN_CHUNK.encryptedColumnMetadata,
          binary(
            encryptModule(
              k.key,
              encodeStruct(meta),
              aad(ref, MODULE_TYPE.COLUMN_META_DATA),
              random,
            ),
          ),
        )
      }
      if (!plan.plaintextFooter) {
        if (k.own) removeField(chunk, COLUMN_CHUNK.metaData)
        else setField(chunk, COLUMN_CHUNK.metaData, { type: 'struct', value: meta })
        return
      }
      // Plaintext footer: legacy readers still need offsets and sizes, not statistics.
      const stripped: ThriftStruct = {
        fields: meta.fields.filter((f) => !SENSITIVE_META.includes(f.id as never)),
      }
      setField(chunk, COLUMN_CHUNK.metaData, { type: 'struct', value: stripped })
    },

    footer(fileMetaData) {
      removeField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
      removeField(fileMetaData, FILE_META_DATA.footerSigningKeyMetadata)
      if (plan.plaintextFooter) {
        setField(
          fileMetaData,
          FILE_META_DATA.encryptionAlgorithm,
          encodeEncryptionAlgorithm(algorithm),
        )
        if (plan.footerKeyMetadata !== undefined) {
          setField(
            fileMetaData,
            FILE_META_DATA.footerSigningKeyMetadata,
            binary(plan.footerKeyMetadata),
          )
        }
        const serialized = encodeStruct(fileMetaData)
        return concatBytes(serialized, signFooter(plan.footerKey, serialized, fileAad, random(12)))
      }
      const crypto = encodeFileCryptoMetaData(algorithm, plan.footerKeyMetadata)
      const sealed = encryptModule(
        plan.footerKey,
        encodeStruct(fileMetaData),
        moduleAad(fileAad, MODULE_TYPE.FOOTER),
        random,
      )
      return concatBytes(crypto, sealed)
    },
  }
}
