// Browser-test harness: a real broker (HTTPS, in-memory PGlite) with one owner and a sim
// platform key, the built portal on loopback HTTP, and Debian's Chromium through playwright-core
// trusting exactly the broker's certificate (by SPKI pin).
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { createSimEvidence, generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom, toBase64Url } from '@subrosa/core'
import { parsePolicy, policyHash } from '@subrosa/policy'
import {
  ADMIN_AUTH_SCHEME,
  createAdminProof,
  generateOwnerKey,
  type OwnerKey,
  reportDataFor,
  signPolicyApproval,
} from '@subrosa/protocol'
import { exportJWK, generateKeyPair } from 'jose'
import { type Browser, chromium, type Page } from 'playwright-core'
import { PORTAL_DIST, type RunningPortal, servePortal } from '../src/index.ts'

export { MEASUREMENT, OTHER_MEASUREMENT, policyYaml } from './policy-fixture.ts'

export const CHROMIUM = process.env.SUBROSA_CHROMIUM ?? '/usr/bin/chromium'
/** Where the tests write screenshots of the main views (committed; the README shows them). */
export const SCREENSHOTS = new URL('../../../docs/screenshots/', import.meta.url).pathname

/** Why the browser tests cannot run here, or undefined when they can (always, in CI: fail there). */
export function missing(): string | undefined {
  if (process.env.CI === 'true') return undefined
  if (!existsSync(CHROMIUM))
    return `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`
  if (!existsSync(join(PORTAL_DIST, 'index.html')))
    return 'the portal is not built (npm run build -w @subrosa/portal)'
  return undefined
}

export type Env = {
  readonly broker: RunningBroker
  readonly portal: RunningPortal
  readonly browser: Browser
  readonly owner: OwnerKey
  readonly sim: SimPlatformKey
  readonly ownerFile: string
  readonly dir: string
  /** An admin call signed by the owner, in-process (no TLS), for set-up and checks. */
  admin(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }>
  /** Apply a policy as the CLI does (`policy sign` + `policy apply`). */
  apply(yaml: string): Promise<{ version: number; hash: string }>
  /** Sim evidence of `measurement` as `subrosa` tools write it (a JWS, text). */
  simEvidence(measurement: string): Promise<string>
  /** A whole sim KBS attestation as `workload`: the broker decides and audits it. */
  attest(measurement: string, workload?: string): Promise<number>
  newPage(): Promise<Page>
  close(): Promise<void>
}

/** A free loopback port (for a portal whose origin must be known before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

/** base64(SHA-256(SPKI DER)) of the certificate a server serves: Chromium's pin format. */
export async function spkiPin(url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  const der = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerCertificate().raw)
        socket.end()
      },
    )
    socket.on('error', reject)
  })
  const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

/** Headless Chromium trusting exactly the certificates with these SPKI pins. */
export function launchChromium(pins: readonly string[]): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pins.join(',')}`,
    ],
  })
}

/** A page of its own browser context, as the tests use them. */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  context.setDefaultTimeout(15_000)
  return context.newPage()
}

export async function startEnv(): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'subrosa-portal-'))
  const owner = await generateOwnerKey()
  const sim = await generateSimPlatformKey()
  const ownerFile = join(dir, 'owner.jwk')
  await writeFile(ownerFile, `${JSON.stringify(owner.privateJwk)}\n`, { mode: 0o600 })
  const portalPort = await freePort()
  const broker = await startBroker({
    unsealKey: systemRandom(32),
    allowSim: true,
    simTrustedKeys: [sim.publicJwk],
    owners: [owner.publicJwk],
    // Every policy change must carry an owner's approval over its hash: the console's apply
    // succeeds only if the browser computed and signed exactly what the broker expects.
    signedPoliciesOnly: true,
    corsOrigins: [`http://127.0.0.1:${portalPort}`],
    auditCheckpointSeconds: 0,
  })
  const portal = await servePortal({ broker: broker.url, port: portalPort })
  const browser = await launchChromium([await spkiPin(broker.url)])
  const admin: Env['admin'] = async (method, url, body) => {
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
    const type = String(res.headers['content-type'] ?? '')
    const json = /^application\/(?:[\w.-]+\+)?json\b/.test(type)
    return { status: res.statusCode, json: json ? res.json() : res.body }
  }
  return {
    broker,
    portal,
    browser,
    owner,
    sim,
    ownerFile,
    dir,
    admin,
    async apply(yaml) {
      const policy = parsePolicy(yaml)
      const { namespace, name } = policy.metadata
      const approval = await signPolicyApproval(
        { namespace, name, hash: policyHash(policy) },
        owner,
        new Date(),
      )
      const res = await admin('POST', '/admin/v0/policies', { yaml, approvals: [approval] })
      if (res.status >= 300) throw new Error(`apply failed: ${JSON.stringify(res.json)}`)
      return res.json as { version: number; hash: string }
    },
    simEvidence: (measurement) =>
      createSimEvidence(
        {
          measurement: Buffer.from(measurement, 'hex'),
          reportData: new Uint8Array(64),
          debug: false,
          svn: 1,
        },
        sim.privateJwk,
        new Date(),
      ),
    async attest(measurement, workload = 'acme/analytics/job') {
      const auth = await broker.app.inject({
        method: 'POST',
        url: '/kbs/v0/auth',
        payload: { version: '0.1.1', tee: 'sim', 'extra-params': { workload } },
      })
      const cookie = String(auth.headers['set-cookie']).split(';')[0] as string
      const { nonce } = auth.json() as { nonce: string }
      const { publicKey } = await generateKeyPair('ECDH-ES+A256KW')
      const { x, y } = await exportJWK(publicKey)
      const runtimeData = {
        nonce,
        'tee-pubkey': {
          kty: 'EC',
          crv: 'P-256',
          x: x as string,
          y: y as string,
          alg: 'ECDH-ES+A256KW',
        },
      } as const
      const evidence = await createSimEvidence(
        {
          measurement: Buffer.from(measurement, 'hex'),
          reportData: reportDataFor(runtimeData),
          debug: false,
          svn: 1,
        },
        sim.privateJwk,
        new Date(),
      )
      const res = await broker.app.inject({
        method: 'POST',
        url: '/kbs/v0/attest',
        headers: { cookie },
        payload: { 'runtime-data': runtimeData, 'tee-evidence': { primary_evidence: evidence } },
      })
      return res.statusCode
    },
    newPage: () => newPage(browser),
    async close() {
      await browser.close()
      await portal.close()
      await broker.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Sign in through the console with the owner's key file. */
export async function signIn(env: Env, page: Page): Promise<void> {
  await page.goto(`${env.portal.url}/`)
  await page.getByLabel('Owner key file (JWK)').setInputFiles(env.ownerFile)
  await page.getByRole('tablist', { name: 'Console sections' }).waitFor()
}
