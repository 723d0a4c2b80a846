import { SdkError } from '../errors.ts'
import type { CachedResponse, CollateralCache } from './cache.ts'

/** Largest collateral response accepted (TCB info with many levels runs to ~20 KB). */
export const MAX_COLLATERAL_BYTES = 1 << 20

/** What a collateral client needs to fetch: transport, cache, clock, time limit. */
export type FetchContext = {
  readonly fetch: typeof fetch
  readonly cache: CollateralCache | undefined
  readonly now: () => Date
  readonly timeoutMs: number
  /** Name of the service in messages ("Intel PCS", "AMD KDS"). */
  readonly service: string
}

/** A parsed response and, when known, when its content stops being current. */
export type Parsed<T> = { readonly value: T; readonly nextUpdate?: Date }

/**
 * GET `url` (or take it from the cache), keep the named headers, parse it, and cache it only
 * once it parsed. A cached entry that no longer parses is refetched.
 *
 * @throws SdkError `ERR_SDK_CONNECT` (network, timeout), `ERR_SDK_RESPONSE` (status other than
 * 200, oversized body, or whatever `parse` throws).
 */
export async function getCollateral<T>(
  ctx: FetchContext,
  url: string,
  keepHeaders: readonly string[],
  parse: (response: CachedResponse) => Parsed<T>,
): Promise<T> {
  const cached = await ctx.cache?.get(url, ctx.now())
  if (cached !== undefined) {
    try {
      return parse(cached).value
    } catch {
      // fall through: refetch
    }
  }
  const response = await fetchResponse(ctx, url, keepHeaders)
  const parsed = parse(response)
  await ctx.cache?.set(url, response, parsed.nextUpdate)
  return parsed.value
}

async function fetchResponse(
  ctx: FetchContext,
  url: string,
  keepHeaders: readonly string[],
): Promise<CachedResponse> {
  const where = describe(url)
  let response: Response
  try {
    response = await ctx.fetch(url, { signal: AbortSignal.timeout(ctx.timeoutMs) })
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONNECT', `Cannot reach ${ctx.service} for ${where}`, { cause })
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined)
    throw new SdkError(
      'ERR_SDK_RESPONSE',
      `${ctx.service} answered HTTP ${response.status} for ${where}`,
      { details: { status: response.status, url: where } },
    )
  }
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > MAX_COLLATERAL_BYTES) throw tooLarge(ctx, where)
  let body: Uint8Array
  try {
    body = new Uint8Array(await response.arrayBuffer())
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONNECT', `${ctx.service} response for ${where} broke off`, {
      cause,
    })
  }
  if (body.length > MAX_COLLATERAL_BYTES) throw tooLarge(ctx, where)
  const headers: Record<string, string> = {}
  for (const name of keepHeaders) {
    const value = response.headers.get(name)
    if (value !== null) headers[name.toLowerCase()] = value
  }
  return { body, headers, fetchedAt: ctx.now() }
}

function tooLarge(ctx: FetchContext, where: string): SdkError {
  return new SdkError(
    'ERR_SDK_RESPONSE',
    `${ctx.service} response for ${where} exceeds ${MAX_COLLATERAL_BYTES} bytes`,
  )
}

/** The path and query of a URL, for messages. */
export function describe(url: string): string {
  try {
    const u = new URL(url)
    return `${u.pathname}${u.search}`
  } catch {
    return 'an invalid URL'
  }
}

/** A base URL without trailing slashes, checked to be http(s). */
export function baseUrlOf(baseUrl: string, what: string): string {
  let parsed: URL
  try {
    parsed = new URL(baseUrl)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', `${what} base URL is not a URL`, { cause })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new SdkError('ERR_SDK_CONFIG', `${what} base URL must be http(s)`)
  }
  return baseUrl.replace(/\/+$/, '')
}

/** An `ERR_SDK_RESPONSE` about a response's content. */
export function badResponse(service: string, what: string, problem: string): SdkError {
  return new SdkError('ERR_SDK_RESPONSE', `${service} ${what} ${problem}`)
}
