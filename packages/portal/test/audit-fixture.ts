// A real audit export: a broker in memory, an owner, two policy versions, the signed export.
import { startBroker } from '@subrosa/broker'
import { systemRandom, toBase64Url } from '@subrosa/core'
import { ADMIN_AUTH_SCHEME, createAdminProof, generateOwnerKey } from '@subrosa/protocol'
import type { JWK } from 'jose'
import { MEASUREMENT, OTHER_MEASUREMENT, policyYaml } from './policy-fixture.ts'

export async function auditExport(): Promise<{ exportText: string; jwks: { keys: JWK[] } }> {
  const owner = await generateOwnerKey()
  const broker = await startBroker({ unsealKey: systemRandom(32), owners: [owner.publicJwk] })
  try {
    const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
      const payload = body === undefined ? '' : JSON.stringify(body)
      const proof = await createAdminProof(
        { method, path: url, body: new TextEncoder().encode(payload) },
        owner,
        new Date(),
        toBase64Url(systemRandom(16)),
      )
      const res = await broker.app.inject({
        method,
        url,
        headers: {
          authorization: `${ADMIN_AUTH_SCHEME} ${proof}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload }),
      })
      if (res.statusCode >= 300) throw new Error(`${url}: ${res.body}`)
      return res
    }
    const v1 = (await call('POST', '/admin/v0/policies', {
      yaml: policyYaml(owner.id, OTHER_MEASUREMENT, null),
    }).then((r) => r.json())) as { hash: string }
    await call('POST', '/admin/v0/policies', { yaml: policyYaml(owner.id, MEASUREMENT, v1.hash) })
    const exportText = (await call('GET', '/admin/v0/audit/export')).body
    return { exportText, jwks: broker.jwks }
  } finally {
    await broker.close()
  }
}
