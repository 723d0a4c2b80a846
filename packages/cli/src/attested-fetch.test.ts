// attestedFetch end to end over loopback HTTPS: a real broker (sim TEE), a small attested
// service (node:https, attested with attestWorkload and its TLS certificate) that counts every
// POST byte it receives, and a caller workload that calls it with an exchanged token.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import {
  type CaMaterial,
  createCa,
  issueServerCertificate,
  type RunningBroker,
  type ServerCredentials,
  startBroker,
} from '@subrosa/broker'
import { systemClock, systemRandom } from '@subrosa/core'
import { type AttestedWorkload, attestWorkload, simTee } from '@subrosa/launcher'
import { generateOwnerKey, type OwnerKey, tlsCertificateSha256 } from '@subrosa/protocol'
import {
  applyPolicy,
  attestedFetch,
  attestedHandler,
  BrokerClient,
  createMemoryReplayCache,
  exchangeToken,
  SdkError,
  type ServiceExpectation,
  verifyExchangedToken,
} from '@subrosa/sdk'
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose'

const SERVICE = 'a1'.repeat(48)
const OTHER = 'b2'.repeat(48)
const CALLER = 'c3'.repeat(48)

function policyYaml(ownerId: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: health, predecessor: null }
owners: { threshold: 1, keys: ["${ownerId}"] }
workloads:
  - name: diagnostics
    accept: [{ tee: sim, measurement: "${SERVICE}" }, { tee: sim, measurement: "${OTHER}" }]
    debug: allow
  - name: billing
    accept: [{ tee: sim, measurement: "${SERVICE}" }]
  - name: api
    accept: [{ tee: sim, measurement: "${CALLER}" }]
    calls: [diagnostics, billing]
`
}

/** A running test service and what reached it. */
type Service = {
  readonly url: string
  readonly attested: AttestedWorkload
  /** POST requests and their body bytes, counted before anything is decrypted. */
  readonly received: { posts: number; bytes: number }
  /** Payloads the handler was given (decrypted, caller verified). */
  readonly payloads: unknown[]
  /** TLS connections accepted. */
  readonly connections: { count: number }
  close(): Promise<void>
}

describe('attestedFetch over loopback HTTPS', () => {
  let broker: RunningBroker
  let owner: OwnerKey
  let sim: SimPlatformKey
  let ca: CaMaterial
  let certA: ServerCredentials
  let certB: ServerCredentials
  let callerClient: BrokerClient
  let caller: AttestedWorkload
  let good: Service
  const services: Service[] = []
  const replayCache = createMemoryReplayCache()

  async function startService(options: {
    workload?: string
    measurement?: string
    debug?: boolean
    /** The certificate bound in the token (undefined: none). */
    attestWith?: ServerCredentials | undefined
    /** The certificate the TLS server presents. */
    serveWith?: ServerCredentials
    /** Serve another token than the attested one. */
    token?: (real: string) => Promise<string>
    /** Close the TLS connection after answering with the token. */
    closeAfterToken?: boolean
  }): Promise<Service> {
    const client = new BrokerClient({ url: broker.url, caPem: broker.caPem })
    const attestWith = 'attestWith' in options ? options.attestWith : certA
    const attested = await attestWorkload({
      client,
      workload: `acme/health/${options.workload ?? 'diagnostics'}`,
      tee: simTee({
        platformKey: sim.privateJwk,
        measurement: Buffer.from(options.measurement ?? SERVICE, 'hex'),
        debug: options.debug ?? false,
        clock: systemClock,
      }),
      ...(attestWith === undefined ? {} : { tlsCertificate: attestWith.certPem }),
    })
    client.close()
    const served =
      options.token === undefined ? attested.token : await options.token(attested.token)
    const received = { posts: 0, bytes: 0 }
    const payloads: unknown[] = []
    const handler = attestedHandler({
      token: () => served,
      teePrivateKey: attested.teePrivateKey,
      verifyCaller: (t) =>
        verifyExchangedToken(t, {
          jwks: broker.jwks,
          issuer: broker.context.issuer,
          audience: 'diagnostics',
          replayCache,
        }),
      handle: async ({ caller: who, payload }) => {
        payloads.push(payload)
        return { echo: payload, caller: who.sub }
      },
    })
    const tls = options.serveWith ?? certA
    const server: Server = createServer(
      { cert: tls.certPem, key: tls.keyPem },
      (req: IncomingMessage, res: ServerResponse) => {
        if (req.method === 'GET' && options.closeAfterToken === true)
          res.setHeader('connection', 'close')
        if (req.method === 'POST') {
          received.posts++
          req.on('data', (chunk: Buffer) => {
            received.bytes += chunk.length
          })
        }
        handler(req, res)
      },
    )
    const connections = { count: 0 }
    server.on('secureConnection', () => {
      connections.count++
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const service: Service = {
      url: `https://127.0.0.1:${port}`,
      attested,
      received,
      payloads,
      connections,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    }
    services.push(service)
    return service
  }

  function expect(overrides: Partial<ServiceExpectation> = {}): ServiceExpectation {
    return {
      issuer: broker.context.issuer,
      jwks: broker.jwks,
      namespace: 'acme',
      policy: 'health',
      workload: 'diagnostics',
      measurement: SERVICE,
      allowSim: true,
      ca: ca.certPem,
      ...overrides,
    }
  }

  const callerToken = async (audience = 'diagnostics') =>
    (await exchangeToken(callerClient, caller.token, audience)).token

  /** A refused call: the code, and proof that not one byte of a request body reached `service`. */
  async function refused(
    service: Service,
    expectation: ServiceExpectation = expect(),
    clock?: () => Date,
  ): Promise<string> {
    const error = await attestedFetch(`${service.url}/v1/infer`, expectation, {
      payload: { record: 'patient-7' },
      callerToken: await callerToken(),
      ...(clock === undefined ? {} : { clock }),
    }).then(
      () => assert.fail('the call was not refused'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof SdkError, String(error))
    assert.deepEqual(service.received, { posts: 0, bytes: 0 }, 'the service received a payload')
    assert.deepEqual(service.payloads, [])
    assert.doesNotMatch(error.message, /patient-7/)
    return error.code
  }

  before(async () => {
    owner = await generateOwnerKey()
    sim = await generateSimPlatformKey()
    broker = await startBroker({
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
      port: 0,
    })
    const admin = new BrokerClient(broker, { owner })
    await applyPolicy(admin, policyYaml(owner.id))
    admin.close()
    const now = new Date()
    ca = await createCa(now, systemRandom(16))
    certA = await issueServerCertificate(ca, ['127.0.0.1', 'localhost'], now, systemRandom(16))
    certB = await issueServerCertificate(ca, ['127.0.0.1', 'localhost'], now, systemRandom(16))
    callerClient = new BrokerClient({ url: broker.url, caPem: broker.caPem })
    caller = await attestWorkload({
      client: callerClient,
      workload: 'acme/health/api',
      tee: simTee({
        platformKey: sim.privateJwk,
        measurement: Buffer.from(CALLER, 'hex'),
        clock: systemClock,
      }),
    })
    good = await startService({})
  })
  after(async () => {
    for (const s of services) await s.close()
    callerClient.close()
    await broker.close()
  })

  it('binds the TLS certificate in the service token', () => {
    assert.equal(
      good.attested.claims['subrosa.tls-cert-sha256'],
      tlsCertificateSha256(certA.certPem),
    )
    assert.equal(caller.claims['subrosa.tls-cert-sha256'], undefined)
  })

  it('round-trips an encrypted request; the service sees the verified caller', async () => {
    const answer = await attestedFetch(`${good.url}/v1/infer`, expect(), {
      payload: { record: 'patient-1', values: [1, 2, 3] },
      callerToken: await callerToken(),
    })
    assert.deepEqual(answer.body, {
      echo: { record: 'patient-1', values: [1, 2, 3] },
      caller: 'acme/health/api',
    })
    assert.equal(answer.service.measurement, SERVICE)
    assert.equal(answer.service.insecure, true)
    assert.equal(answer.service.tlsCertSha256, tlsCertificateSha256(certA.certPem))
    assert.deepEqual(good.payloads, [{ record: 'patient-1', values: [1, 2, 3] }])
    assert.equal(good.received.posts, 1)
    // The token was fetched and the payload sent over one and the same TLS connection.
    assert.equal(good.connections.count, 1)
    // Without a CA the certificate is trusted through the token's binding alone.
    const { ca: _ca, ...unpinned } = expect()
    const again = await attestedFetch(`${good.url}/v1/infer`, unpinned, {
      payload: { record: 'patient-2' },
      callerToken: await callerToken(),
    })
    assert.equal((again.body as { caller: string }).caller, 'acme/health/api')
    good.payloads.length = 0
    good.received.posts = 0
    good.received.bytes = 0
  })

  it('refuses a service with another measurement', async () => {
    const other = await startService({ measurement: OTHER })
    assert.equal(await refused(other), 'ERR_ATTESTED_MEASUREMENT')
    assert.equal(
      await refused(other, expect({ measurement: [SERVICE, 'dd'.repeat(48)] })),
      'ERR_ATTESTED_MEASUREMENT',
    )
  })

  it('refuses a service in a debug TEE, even one its policy admits', async () => {
    const debug = await startService({ debug: true })
    assert.equal(debug.attested.claims.submods.cpu0['ear.veraison.annotated-evidence'].debug, true)
    assert.equal(await refused(debug), 'ERR_ATTESTED_DEBUG')
  })

  it('refuses the sim TEE unless the caller allows it', async () => {
    assert.equal(await refused(good, expect({ allowSim: false })), 'ERR_ATTESTED_SIM')
    const { allowSim: _allow, ...byDefault } = expect()
    assert.equal(await refused(good, byDefault), 'ERR_ATTESTED_SIM')
  })

  it('refuses a token signed by a key the broker JWKS does not hold', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    const forger = await startService({
      token: async (real) =>
        new SignJWT(decodeJwt(real))
          .setProtectedHeader({
            alg: 'ES256',
            kid: String(decodeProtectedHeader(real).kid),
            typ: 'JWT',
          })
          .sign({ ...(await exportJWK(privateKey)) }),
    })
    assert.equal(await refused(forger), 'ERR_ATTESTED_SIGNATURE')
    // Nor a broker the caller did not pin.
    assert.equal(
      await refused(good, expect({ issuer: 'https://another-broker.test' })),
      'ERR_ATTESTED_ISSUER',
    )
  })

  it('refuses an expired token', async () => {
    const tomorrow = () => new Date(Date.now() + 86_400_000)
    assert.equal(await refused(good, expect(), tomorrow), 'ERR_ATTESTED_EXPIRED')
  })

  it('refuses a service attested as another workload', async () => {
    const billing = await startService({ workload: 'billing' })
    assert.equal(await refused(billing), 'ERR_ATTESTED_WORKLOAD')
  })

  it('refuses a TLS certificate other than the one the token binds', async () => {
    const relay = await startService({ attestWith: certA, serveWith: certB })
    assert.equal(await refused(relay), 'ERR_ATTESTED_TLS_BINDING')
    const { ca: _ca, ...unpinned } = expect()
    assert.equal(await refused(relay, unpinned), 'ERR_ATTESTED_TLS_BINDING')
    const unbound = await startService({ attestWith: undefined })
    assert.equal(await refused(unbound), 'ERR_ATTESTED_TLS_BINDING')
  })

  it('never sends the payload over another connection than the one it verified', async () => {
    const closing = await startService({ closeAfterToken: true })
    assert.equal(await refused(closing), 'ERR_ATTESTED_CONNECT')
    assert.equal(closing.connections.count, 1)
  })

  it('the service refuses a replayed caller token and one for another audience, unread', async () => {
    const token = await callerToken()
    const first = await attestedFetch(`${good.url}/v1/infer`, expect(), {
      payload: { record: 'patient-3' },
      callerToken: token,
    })
    assert.equal((first.body as { caller: string }).caller, 'acme/health/api')
    assert.equal(good.payloads.length, 1)
    for (const [presented, code] of [
      [token, 'ERR_TOKEN_REPLAY'],
      [await callerToken('billing'), 'ERR_TOKEN_AUDIENCE'],
    ] as const) {
      const error = await attestedFetch(`${good.url}/v1/infer`, expect(), {
        payload: { record: 'patient-4' },
        callerToken: presented,
      }).then(
        () => assert.fail('the service accepted the caller token'),
        (e: unknown) => e,
      )
      assert.ok(error instanceof SdkError)
      assert.equal(error.code, 'ERR_ATTESTED_REFUSED')
      assert.equal(error.details?.code, code)
    }
    // The handler never saw the refused payloads: their caller was refused before decryption.
    assert.deepEqual(good.payloads, [{ record: 'patient-3' }])
  })
})
