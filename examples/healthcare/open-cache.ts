// The healthcare API's sealed Redis cache: the cache key and the Redis client certificate are
// policy secrets, released to the attested API only; the key is wiped once derived.
import type { AttestedWorkload } from '@subrosa/launcher'
import { connectSealedCache, deriveSealedCacheKeys, type SealedCache } from '@subrosa/sdk'

/** The cache key and the Redis client certificate: policy secrets, released after attestation. */
export async function openCache(
  attested: AttestedWorkload,
  redis: { readonly host: string; readonly port: number },
): Promise<SealedCache> {
  const w = attested.claims['subrosa.workload']
  const secret = await attested.resource(w.namespace, w.policy, 'cache-key')
  const parts = JSON.parse(
    new TextDecoder().decode(await attested.resource(w.namespace, w.policy, 'redis-client')),
  ) as { cert: string; private: string; ca: string }
  try {
    return await connectSealedCache({
      host: redis.host,
      port: redis.port,
      caPem: parts.ca,
      certPem: parts.cert,
      keyPem: parts.private,
      keys: deriveSealedCacheKeys(secret),
    })
  } finally {
    secret.fill(0)
  }
}
