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
export type { KeyRetriever } from './parquet/footer.ts'
export {
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
  type KekCache,
  type KeyMaterial,
  type KeyMaterialReference,
  parseKeyMaterial,
  unwrapKeyMaterial,
} from './parquet/key-material.ts'
export {
  type DecryptParquetWithKmsOptions,
  decryptParquetWithKms,
  type EncryptParquetWithKmsOptions,
  encryptParquetWithKms,
  unwrapFooterKey,
} from './parquet/kms-parquet.ts'
export type { ColumnInfo } from './parquet/metadata.ts'
export { openSecret, sealSecret } from './seal.ts'
export { localUnwrap, localWrap, unwrapKey, wrapKey } from './wrap.ts'
