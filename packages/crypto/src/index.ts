export {
  type AeEncryptionType,
  CELL_VERSION,
  decryptCell,
  encryptCell,
  MIN_CELL_LENGTH,
} from './always-encrypted/cell.ts'
export {
  AE_ALGORITHM,
  CEK_LENGTH,
  type CellKeys,
  deriveCellKeys,
  wipeCellKeys,
} from './always-encrypted/keys.ts'
export {
  type AeSqlType,
  type AeValue,
  decodeAeValue,
  encodeAeValue,
  formatAeSqlType,
  parseAeSqlType,
} from './always-encrypted/values.ts'
export { CRYPTO_ERRORS, CryptoError, type CryptoErrorCode } from './errors.ts'
export { createInMemoryKms, type KmsClient } from './kms.ts'
export {
  type ByteSink,
  type ByteSource,
  bytesSource,
  memorySink,
} from './parquet/byte-io.ts'
export {
  decryptParquet,
  type ParquetDecryptOptions,
  type ParquetDecryptStats,
} from './parquet/decrypt-parquet.ts'
export {
  encryptParquet,
  type ParquetEncryptOptions,
  type ParquetEncryptStats,
} from './parquet/encrypt-parquet.ts'
export type { ColumnKey } from './parquet/encrypted-side.ts'
export type { KeyRetriever, KeyTarget } from './parquet/footer.ts'
export {
  type ColumnEncryption,
  inspectParquet,
  type KeyMetadataSummary,
  type ParquetFooterInfo,
  type ParquetInspection,
  readParquetFooter,
} from './parquet/inspect.ts'
export {
  type CreateKeyMaterialOptions,
  createKekCache,
  createKeyMaterial,
  encodeKeyMaterialSidecar,
  type KekCache,
  type KeyMaterial,
  type KeyMaterialReference,
  type KeyMaterialStore,
  keyMaterialReference,
  keyMaterialSidecarName,
  parseKeyMaterial,
  parseKeyMaterialSidecar,
  rotateKeyMaterial,
  unwrapKeyMaterial,
} from './parquet/key-material.ts'
export {
  type DecryptParquetWithKmsOptions,
  decryptParquetWithKms,
  type EncryptParquetWithKmsOptions,
  encryptParquetWithKms,
  KEY_ACCESS_DENIED_CODES,
  unwrapFooterKey,
} from './parquet/kms-parquet.ts'
export type { ColumnInfo } from './parquet/metadata.ts'
export type { PmeAlgorithm } from './parquet/modules.ts'
export { openSecret, sealSecret } from './seal.ts'
export { type ShamirShare, shamirCombine, shamirSplit } from './shamir.ts'
export { readStreamHeader, type StreamHeader } from './stream/header.ts'
export {
  type DecryptStreamOptions,
  decryptStream,
  type EncryptStreamOptions,
  encryptStream,
} from './stream/stream.ts'
export {
  type DecryptStreamWithKmsOptions,
  decryptStreamWithKms,
  type EncryptStreamWithKmsOptions,
  encryptStreamWithKms,
} from './stream/stream-kms.ts'
export { localUnwrap, localWrap, unwrapKey, wrapKey } from './wrap.ts'
