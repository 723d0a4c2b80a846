export {
  concatBytes,
  equalBytes,
  fromBase64,
  fromBase64Url,
  fromHex,
  fromUtf8,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
  wipe,
} from './bytes.ts'
export { canonicalJson } from './canonical-json.ts'
export {
  BaseError,
  CORE_ERRORS,
  CoreError,
  type CoreErrorCode,
  type ErrorDetails,
  isSubrosaError,
} from './errors.ts'
export {
  type CompactJws,
  compactJwsParts,
  type Es256Jwk,
  es256PrivateKey,
  es256PublicKey,
  signCompactEs256,
  verifiesEs256,
} from './es256.ts'
export { type Clock, type RandomBytes, systemClock, systemRandom } from './runtime.ts'
