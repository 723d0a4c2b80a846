// The custodian console in real headless Chromium against a real broker over HTTPS.
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parsePolicy, policyHash } from '@subrosa/policy'
import type { Locator, Page } from 'playwright-core'
import {
  type Env,
  MEASUREMENT,
  missing,
  OTHER_MEASUREMENT,
  policyYaml,
  SCREENSHOTS,
  signIn,
  startEnv,
} from './harness.ts'

const skip = missing()
const text = async (l: Locator) => (await l.textContent()) ?? ''

describe('custodian console', { skip, timeout: 180_000 }, () => {
  let env: Env
  let page: Page
  let v2: { version: number; hash: string }

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true })
    env = await startEnv()
    const v1 = await env.apply(policyYaml(env.owner.id, OTHER_MEASUREMENT, null))
    v2 = await env.apply(policyYaml(env.owner.id, MEASUREMENT, v1.hash))
    await env.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'taxi' })
    assert.equal(await env.attest(MEASUREMENT), 200)
    assert.equal(await env.attest(OTHER_MEASUREMENT), 403)
    page = await env.newPage()
  })
  after(async () => {
    await env?.close()
  })

  const shot = (name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false })

  it('signs in with the CLI owner key file and shows the verified audit chain', async () => {
    await page.goto(`${env.portal.url}/`)
    await page.getByRole('heading', { name: 'Sign in with your owner key' }).waitFor()
    await shot('console-sign-in')
    await signIn(env, page)
    await page.getByText(`namespaces acme`).waitFor()
    const indicator = page.locator('.indicator')
    await page.locator('.indicator[data-state="ok"]').waitFor()
    assert.match(await text(indicator), /Audit chain verified up to entry \d+/)
    // The owner key is never rendered.
    const html = await page.content()
    assert.ok(!html.includes(String(env.owner.privateJwk.d)))
  })

  it('moves between sections with the arrow keys (tabs pattern)', async () => {
    await page.getByRole('tab', { name: 'Policies' }).focus()
    await page.keyboard.press('ArrowRight')
    const dryRun = page.getByRole('tab', { name: 'Dry run' })
    assert.equal(await dryRun.getAttribute('aria-selected'), 'true')
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Dry run')
    await page.getByRole('tabpanel').getByRole('heading', { name: 'Policy dry run' }).waitFor()
    await page.keyboard.press('ArrowLeft')
    assert.equal(
      await page.getByRole('tab', { name: 'Policies' }).getAttribute('aria-selected'),
      'true',
    )
  })

  it('shows a policy history and the diff between two versions', async () => {
    await page.getByLabel('Namespace').selectOption('acme')
    await page.getByLabel('Policy', { exact: true }).selectOption('analytics')
    await page.getByRole('cell', { name: 'v2' }).waitFor()
    assert.equal(await page.getByRole('cell', { name: /^v\d$/ }).count(), 2)
    const diff = page.locator('figure.diff').first()
    assert.match(await text(diff.locator('figcaption')), /v1 → v2: \d+ changed line/)
    assert.match(
      await text(diff.locator('del').filter({ hasText: 'measurement' })),
      new RegExp(OTHER_MEASUREMENT),
    )
    assert.match(
      await text(diff.locator('ins').filter({ hasText: 'measurement' })),
      new RegExp(MEASUREMENT),
    )
    await shot('console-policy-diff')
  })

  it('applies a change signed in the browser over the canonical policy', async () => {
    const draft = page.getByLabel(/Next version/)
    const text = await draft.inputValue()
    assert.match(text, new RegExp(`predecessor: "${v2.hash}"`), 'draft names the current version')
    const next = text
      .replace('debug: deny', 'debug: deny\n    keys: ["acme/taxi:unwrap", "acme/results:wrap"]')
      .replace(/\n {4}keys: \["acme\/taxi:unwrap"\]\n/, '\n')
    await draft.fill(next)
    await page.getByRole('button', { name: 'Review change' }).click()
    const expected = policyHash(parsePolicy(next))
    await page.getByText('Hash of the new version').waitFor()
    assert.equal(
      await page.locator('.review code[title^="sha384:"]').getAttribute('title'),
      expected,
      'the browser computes the same policy hash as @subrosa/policy',
    )
    await page.locator('.review').scrollIntoViewIfNeeded()
    await shot('console-policy-review')
    await page.getByRole('button', { name: 'Sign and apply' }).click()
    await page.getByText('Applied acme/analytics version 3').waitFor()
    const history = (await env.admin('GET', '/admin/v0/policies/acme/analytics/history')).json as {
      versions: { version: number; hash: string; approvedBy: string[] }[]
    }
    const v3 = history.versions.at(-1)
    assert.equal(v3?.version, 3)
    assert.equal(v3?.hash, expected)
    assert.deepEqual(v3?.approvedBy, [env.owner.id])
    await page.getByRole('cell', { name: 'v3' }).waitFor()
  })

  it('refuses to apply an invalid draft and says why', async () => {
    const draft = page.getByLabel(/Next version/)
    await draft.fill((await draft.inputValue()).replace('threshold: 1', 'threshold: 0'))
    await page.getByRole('button', { name: 'Review change' }).click()
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match(await text(alert), /ERR_POLICY_INVALID/)
    assert.equal(await page.getByRole('button', { name: 'Sign and apply' }).count(), 0)
  })

  it('dry-runs uploaded evidence and shows the decision with the deciding clause', async () => {
    const good = join(env.dir, 'good.evidence')
    const bad = join(env.dir, 'bad.evidence')
    const { writeFile } = await import('node:fs/promises')
    await writeFile(good, await env.simEvidence(MEASUREMENT))
    await writeFile(bad, await env.simEvidence(OTHER_MEASUREMENT))
    const expected = (
      await env.admin('POST', '/admin/v0/dry-run', {
        tee: 'sim',
        evidence: await env.simEvidence(MEASUREMENT),
        workload: 'job',
        policy: { namespace: 'acme', name: 'analytics' },
      })
    ).json as { decision: { allow: boolean; clause: string } }
    assert.equal(expected.decision.allow, true)
    assert.notEqual(expected.decision.clause, '')

    await page.getByRole('tab', { name: 'Dry run' }).click()
    await page.getByLabel('Policy', { exact: true }).selectOption('analytics')
    await page.getByLabel('Workload').fill('job')
    await page.getByLabel('Evidence file').setInputFiles(good)
    await page.getByRole('button', { name: 'Run dry run' }).click()
    await page.getByTestId('dry-run-decision').waitFor()
    assert.match(await text(page.getByTestId('dry-run-decision')), /Would allow/)
    assert.equal(await text(page.getByTestId('dry-run-clause')), expected.decision.clause)
    await shot('console-dry-run')

    await page.getByLabel('Evidence file').setInputFiles(bad)
    await page.getByRole('button', { name: 'Run dry run' }).click()
    await page.getByText('Would deny').waitFor()
    assert.ok((await page.locator('.result li').count()) > 0, 'a denial lists its reasons')
  })

  it('lists keys and secrets by id, never their values', async () => {
    await page.getByRole('tab', { name: 'Keys & secrets' }).click()
    await page.getByText('acme/analytics/db-token').waitFor()
    await page.getByText('subrosa:acme/taxi').waitFor()
  })

  it('shows recent attestation decisions with their reasons', async () => {
    await page.getByRole('tab', { name: 'Attestations' }).click()
    await page.locator('tbody tr').first().waitFor()
    const rows = await text(page.locator('tbody'))
    assert.match(rows, /allowed/)
    assert.match(rows, /denied/)
    assert.match(rows, /ERR_POLICY_DENIED/)
    await shot('console-attestations')
  })

  it('turns the audit indicator red when a tampered export reaches the browser', async () => {
    // The browser's own verification: the broker's export is altered in flight.
    await page.getByRole('tab', { name: 'Audit log' }).click()
    await page.locator('.indicator[data-state="ok"]').first().waitFor()
    const exported = (await env.admin('GET', '/admin/v0/audit/export')).json as string
    const tampered = exported.replace('"kind":"key.create"', '"kind":"key.crate"')
    assert.notEqual(tampered, exported)
    await page.route('**/admin/v0/audit/export', (route) =>
      route.fulfill({
        status: 200,
        headers: {
          'content-type': 'application/x-ndjson',
          'access-control-allow-origin': env.portal.url,
        },
        body: tampered,
      }),
    )
    try {
      await page.locator('.indicator[data-state="bad"]').first().waitFor()
      const shown = await text(page.locator('.indicator').first())
      assert.match(shown, /Audit chain broken at entry \d+: its fields were changed/)
    } finally {
      await page.unroute('**/admin/v0/audit/export')
    }
    await page.locator('.indicator[data-state="ok"]').first().waitFor()
  })

  it('turns the audit indicator red when an entry is altered in the database', async () => {
    await page.locator('.indicator[data-state="ok"]').first().waitFor()
    await shot('console-audit')
    const row = (
      await env.broker.context.db.query<{ seq: number | string }>(
        "SELECT seq FROM audit_log WHERE kind = 'policy.apply' ORDER BY seq LIMIT 1",
      )
    ).rows[0]
    assert.ok(row !== undefined)
    await env.broker.context.db.query(
      `UPDATE audit_log SET data = jsonb_set(data, '{by}', '"someone-else"') WHERE seq = $1`,
      [row.seq],
    )
    await page.locator('.indicator[data-state="bad"]').first().waitFor({ timeout: 15_000 })
    assert.match(
      await text(page.locator('.indicator').first()),
      new RegExp(`Audit chain broken at entry ${Number(row.seq)}:`),
    )
    await shot('console-audit-broken')
  })
})
