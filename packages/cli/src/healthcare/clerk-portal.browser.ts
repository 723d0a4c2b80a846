// The clerk portal in headless Chromium against the real healthcare chain (broker, sim TEE,
// TLS Redis, diagnostics, API): the page verifies the API's attestation, shows what it verified,
// encrypts a record to the attested key and shows the diagnosis. Every refusal (tampered token,
// debug TEE, wrong measurement, unpublished signing key) disables Send, says why, and the API
// receives no record. Here, not in the portal package: the chain lives in the CLI, which depends
// on the portal (ADR 0031). Run by `npm run test:browser`.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { predictLogistic, WDBC_CSV_PATH } from '@subrosa/inference'
import { type RunningPortal, servePortal } from '@subrosa/portal'
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWTPayload,
  SignJWT,
} from 'jose'
import type { Browser, Page } from 'playwright-core'
import type { ApiService } from '../../../../examples/healthcare/api-service.ts'
import {
  freePort,
  launchChromium,
  missing,
  newPage,
  SCREENSHOTS,
  spkiPin,
} from '../../../portal/test/harness.ts'
import { type HealthcareChain, startHealthcareChain, WORKLOADS } from './chain.ts'
import { redisInstalled } from './redis.ts'

const skip =
  missing() ??
  (!existsSync(WDBC_CSV_PATH)
    ? `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`
    : !redisInstalled()
      ? 'redis-server is not installed (apt-get install redis-server)'
      : false)

describe('the clerk portal against the healthcare chain', { skip }, () => {
  let dir: string
  let chain: HealthcareChain
  let api: ApiService
  let portal: RunningPortal
  let strictPortal: RunningPortal
  let browser: Browser
  let clerkFile: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-clerk-'))
    const ports = [await freePort(), await freePort()] as const
    const origins = ports.map((p) => `http://127.0.0.1:${p}`)
    chain = await startHealthcareChain({ dir, replicas: 1, brokerCorsOrigins: origins })
    const clerk = await generateKeyPair('ES256', { extractable: true })
    clerkFile = join(dir, 'clerk.jwk')
    await writeFile(clerkFile, JSON.stringify(await exportJWK(clerk.privateKey)))
    api = await chain.startApi({
      clerks: [await exportJWK(clerk.publicKey)],
      corsOrigins: origins,
    })
    const expectation = {
      service: api.url,
      workload: WORKLOADS.api,
      measurement: [chain.measurements.api],
      allowSim: true,
    }
    portal = await servePortal({ broker: chain.broker.url, port: ports[0], clerk: expectation })
    // The same service, but the portal expects other code (a measurement it does not run).
    strictPortal = await servePortal({
      broker: chain.broker.url,
      port: ports[1],
      clerk: { ...expectation, measurement: ['0f'.repeat(48)] },
    })
    browser = await launchChromium([await spkiPin(chain.broker.url), await spkiPin(api.url)])
  })
  after(async () => {
    await browser?.close()
    await portal?.close()
    await strictPortal?.close()
    await chain?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Open the clerk view; record every request the page makes. */
  async function open(url: string, attestation?: (real: string) => Promise<string>) {
    const page = await newPage(browser)
    const requests: { method: string; url: string }[] = []
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }))
    if (attestation !== undefined)
      // A man in the middle of the browser and the API: it serves another token.
      await page.route(`${api.url}/v1/attestation`, async (route) =>
        route.fulfill({
          status: 200,
          headers: {
            'access-control-allow-origin': new URL(url).origin,
            'cache-control': 'no-store',
          },
          contentType: 'application/json',
          body: JSON.stringify({ token: await attestation(api.token()) }),
        }),
      )
    await page.goto(`${url}/#/clerk`)
    return { page, requests }
  }

  async function fillRecord(page: Page, recordId: string) {
    const [record] = chain.sampleRecords(1)
    assert.ok(record)
    await page.getByLabel('Clerk key file (JWK)').setInputFiles(clerkFile)
    await page.getByText('Signed in as clerk').waitFor()
    await page.getByLabel('Record id').fill(recordId)
    await page.getByLabel('Patient name').fill(record.patient.name)
    await page.getByLabel('Birth date').fill(record.patient.birthDate)
    await page.getByLabel(/Measurements/).fill(record.features.join(', '))
    return record
  }

  /** The page refused with `code`, Send is disabled, and nothing reached the API. */
  async function assertRefused(
    url: string,
    code: string,
    attestation?: (t: string) => Promise<string>,
  ) {
    const before = api.opened()
    const { page, requests } = await open(url, attestation)
    const alert = page.getByRole('alert').filter({ hasText: 'Not sending' })
    await alert.waitFor()
    assert.match((await alert.textContent()) ?? '', new RegExp(code))
    await fillRecord(page, `refused-${code.toLowerCase()}`)
    const send = page.getByRole('button', { name: 'Send encrypted record' })
    assert.equal(await send.isDisabled(), true)
    // Even an implicit submission (Enter in a field) sends nothing.
    await page.getByLabel('Record id').press('Enter')
    await page.getByText('Send is disabled: the service failed verification').waitFor()
    assert.equal(api.opened(), before, 'the API opened no record')
    assert.deepEqual(
      requests.filter((r) => r.method === 'POST'),
      [],
      'the page posted nothing',
    )
    return page
  }

  it('verifies the API, shows the facts, sends an encrypted record and shows the diagnosis', async () => {
    const before = api.opened()
    const { page, requests } = await open(portal.url)
    await page.getByText('Verified: safe to send records to this service.').waitFor()
    const facts = page.getByRole('definition')
    assert.ok((await facts.allTextContents()).some((t) => t.includes(WORKLOADS.api)))
    await page.getByRole('note').filter({ hasText: 'Simulated TEE — not secure' }).waitFor()
    const record = await fillRecord(page, 'rec-clerk-1')
    await page.getByRole('button', { name: 'Send encrypted record' }).click()
    const answer = page.getByRole('status').filter({ hasText: 'Record rec-clerk-1' })
    await answer.waitFor()
    const [p] = predictLogistic(chain.trained.model, [Float64Array.from(record.features)])
    assert.match((await answer.textContent()) ?? '', (p as number) >= 0.5 ? /malignant/ : /benign/)
    assert.equal(api.opened(), before + 1, 'the API opened exactly one record')
    // The page talked to itself, the broker and the API only (the CSP allows no more).
    const allowed = [portal.url, chain.broker.url, api.url].map((u) => new URL(u).origin)
    for (const r of requests)
      if (!r.url.startsWith('blob:') && !r.url.startsWith('data:'))
        assert.ok(allowed.includes(new URL(r.url).origin), r.url)
    await page.screenshot({ path: join(SCREENSHOTS, 'clerk-portal.png'), fullPage: true })
  })

  it('refuses a tampered token (a changed claim breaks the signature)', async () => {
    const page = await assertRefused(portal.url, 'ERR_ATTESTED_SIGNATURE', async (token) => {
      const [h, p, s] = token.split('.') as [string, string, string]
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as JWTPayload & {
        'subrosa.workload': { policyVersion: number }
      }
      claims['subrosa.workload'].policyVersion += 1
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`
    })
    await page.screenshot({ path: join(SCREENSHOTS, 'clerk-portal-refused.png'), fullPage: true })
  })

  it('refuses a service in a debug-mode TEE', async () => {
    // What the broker would issue under a `debug: allow` policy: signed with its real key.
    const signing = chain.broker.context.keys.signingKey
    await assertRefused(portal.url, 'ERR_ATTESTED_DEBUG', async (token) => {
      const claims = decodeJwt(token) as JWTPayload & {
        submods: { cpu0: { 'ear.veraison.annotated-evidence': { debug: boolean } } }
      }
      claims.submods.cpu0['ear.veraison.annotated-evidence'].debug = true
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: signing.kid as string, typ: 'JWT' })
        .sign(await importJWK(signing, 'ES256'))
    })
  })

  it('refuses a service that runs another measurement than the portal expects', async () => {
    await assertRefused(strictPortal.url, 'ERR_ATTESTED_MEASUREMENT')
  })

  it('refuses a token signed by a key the broker does not publish', async () => {
    await assertRefused(portal.url, 'ERR_ATTESTED_SIGNATURE', async (token) => {
      const { privateKey } = await generateKeyPair('ES256')
      return new SignJWT(decodeJwt(token))
        .setProtectedHeader({ ...decodeProtectedHeader(token), alg: 'ES256' })
        .sign(privateKey)
    })
  })
})
