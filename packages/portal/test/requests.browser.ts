// Every request the console makes goes to the portal itself or to the configured broker, and
// none carries the owner's private key.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ownerKeyId } from '@subrosa/protocol'
import {
  type Env,
  MEASUREMENT,
  missing,
  OTHER_MEASUREMENT,
  policyYaml,
  signIn,
  startEnv,
} from './harness.ts'

describe('console network traffic', { skip: missing(), timeout: 120_000 }, () => {
  let env: Env
  before(async () => {
    env = await startEnv()
    const v1 = await env.apply(policyYaml(env.owner.id, OTHER_MEASUREMENT, null))
    await env.apply(policyYaml(env.owner.id, MEASUREMENT, v1.hash))
  })
  after(async () => {
    await env?.close()
  })

  it('contacts only the portal and the broker, and never sends the private key', async () => {
    const page = await env.newPage()
    const seen: { url: string; body: string }[] = []
    page.on('request', (r) => seen.push({ url: r.url(), body: r.postData() ?? '' }))
    // A request the CSP blocks never shows up above; the attempt is logged as a violation.
    const violations: string[] = []
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text())
    })
    await signIn(env, page)
    await page.locator('.indicator[data-state="ok"]').waitFor()
    await page.getByLabel('Policy', { exact: true }).selectOption('analytics')
    await page.getByRole('cell', { name: 'v2' }).waitFor()
    await page.getByRole('button', { name: 'Review change' }).click()
    await page.getByText('Hash of the new version').waitFor()
    await page.getByRole('tab', { name: 'Dry run' }).click()
    await page.getByLabel('Policy', { exact: true }).selectOption('analytics')
    await page.getByLabel('Workload').fill('job')
    const evidence = join(env.dir, 'evidence')
    await writeFile(evidence, await env.simEvidence(MEASUREMENT))
    await page.getByLabel('Evidence file').setInputFiles(evidence)
    await page.getByRole('button', { name: 'Run dry run' }).click()
    await page.getByTestId('dry-run-decision').waitFor()
    for (const tab of ['Keys & secrets', 'Audit log', 'Attestations']) {
      await page.getByRole('tab', { name: tab }).click()
      await page.getByRole('tabpanel').waitFor()
    }

    const allowed = new Set([new URL(env.portal.url).origin, new URL(env.broker.url).origin])
    assert.ok(seen.length > 10, `recorded ${seen.length} requests`)
    const foreign = seen.filter(
      (r) => !r.url.startsWith('data:') && !allowed.has(new URL(r.url).origin),
    )
    assert.deepEqual(foreign, [], 'requests to a host other than the portal and the broker')
    assert.deepEqual(violations, [], 'attempts the Content-Security-Policy blocked')
    assert.ok(seen.some((r) => r.url.startsWith(`${env.broker.url}/admin/v0/dry-run`)))
    const d = String(env.owner.privateJwk.d)
    for (const r of seen) {
      assert.ok(
        !r.url.includes(d) && !r.body.includes(d),
        `the private key left the page: ${r.url}`,
      )
    }
  })

  it('generates an owner key, exports it in the CLI format and never renders it', async () => {
    const page = await env.newPage()
    await page.goto(`${env.portal.url}/`)
    await page.getByRole('button', { name: 'Generate a new owner key' }).click()
    const saved = page.waitForEvent('download')
    await page.getByRole('link', { name: /Save private key/ }).click()
    const download = await saved
    assert.equal(download.suggestedFilename(), 'owner.jwk')
    const jwk = JSON.parse(await readFile(await download.path(), 'utf8')) as Record<string, string>
    assert.equal(jwk.kty, 'EC')
    assert.equal(jwk.crv, 'P-256')
    assert.equal(typeof jwk.d, 'string')
    const { d: _d, ...pub } = jwk
    const shown = await page.locator('.generated code[title]').getAttribute('title')
    assert.equal(shown, await ownerKeyId(pub))
    assert.ok(!(await page.content()).includes(String(jwk.d)), 'the private key is not in the page')
    // Not registered with the broker: signing in says so instead of failing silently.
    await page.getByRole('button', { name: 'Sign in with this key' }).click()
    await page.getByRole('alert').waitFor()
    assert.match((await page.getByRole('alert').textContent()) ?? '', /registered/)
  })
})
