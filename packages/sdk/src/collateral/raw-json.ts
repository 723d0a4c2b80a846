import { SdkError } from '../errors.ts'

/**
 * The members of a top-level JSON object, each value as its exact raw text. Signed collateral
 * (`tcbInfo`, `enclaveIdentity`) is signed over these bytes, so it must never be re-serialized.
 * The text is first validated with `JSON.parse`, so the scanner below only has to find where
 * each value ends (strings with escapes, nested objects and arrays, literals).
 *
 * @throws SdkError `ERR_SDK_RESPONSE` when the text is not a JSON object or repeats a key.
 */
export function rawMembers(text: string, what: string): Map<string, string> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw malformed(what, 'is not JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed(what, 'is not a JSON object')
  }
  const members = new Map<string, string>()
  let i = skipSpace(text, skipSpace(text, 0) + 1)
  while (text[i] === '"') {
    const keyEnd = stringEnd(text, i)
    const key: unknown = JSON.parse(text.slice(i, keyEnd))
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1)
    const valueEnd = valueEndAt(text, valueStart)
    if (typeof key !== 'string' || members.has(key)) throw malformed(what, 'repeats a key')
    members.set(key, text.slice(valueStart, valueEnd))
    i = skipSpace(text, valueEnd)
    if (text[i] === ',') i = skipSpace(text, i + 1)
  }
  return members
}

function skipSpace(text: string, i: number): number {
  let j = i
  while (
    j < text.length &&
    (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r')
  )
    j++
  return j
}

/** Index just past the string literal starting at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  let j = i + 1
  while (j < text.length) {
    const c = text[j]
    if (c === '\\') j += 2
    else if (c === '"') return j + 1
    else j++
  }
  return j
}

function valueEndAt(text: string, i: number): number {
  const first = text[i]
  if (first === '"') return stringEnd(text, i)
  if (first === '{' || first === '[') {
    let depth = 0
    let j = i
    while (j < text.length) {
      const c = text[j]
      if (c === '"') {
        j = stringEnd(text, j)
        continue
      }
      if (c === '{' || c === '[') depth++
      else if (c === '}' || c === ']') depth--
      j++
      if (depth === 0) return j
    }
    return j
  }
  let j = i
  while (j < text.length && !',}] \t\n\r'.includes(text[j] as string)) j++
  return j
}

function malformed(what: string, problem: string): SdkError {
  return new SdkError('ERR_SDK_RESPONSE', `${what} ${problem}`)
}
