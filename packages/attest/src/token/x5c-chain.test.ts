import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { makeCertificate, toPem, toX5c } from './test-certificates.ts'
import { MAX_X5C_LENGTH, verifyX5cChain } from './x5c-chain.ts'

const now = new Date('2026-11-22T12:00:00Z')
const day = 24 * 3600 * 1000
const window = { notBefore: new Date(now.getTime() - day), notAfter: new Date(now.getTime() + day) }
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })

describe('x5c chains', () => {
  const root = ec()
  const middle = ec()
  const leaf = ec()
  const rootDer = makeCertificate({ subject: 'Root', ...root, ...window, ca: true })
  const issue = (subject: string, by: string, key: typeof root, ca: boolean, signer = root) =>
    makeCertificate({
      subject,
      issuer: { name: by, privateKey: signer.privateKey },
      publicKey: key.publicKey,
      ...window,
      ca,
    })
  const middleDer = issue('Middle', 'Root', middle, true)
  const leafDer = issue('Leaf', 'Middle', leaf, false, middle)

  it('returns the leaf key of a chain that reaches a pinned root', () => {
    const key = verifyX5cChain([toX5c(leafDer), toX5c(middleDer)], [toPem(rootDer)], now)
    assert.ok(key.equals(leaf.publicKey))
    const direct = verifyX5cChain([toX5c(middleDer)], [toPem(rootDer)], now)
    assert.ok(direct.equals(middle.publicKey))
    const pinnedLeaf = verifyX5cChain([toX5c(leafDer)], [toPem(leafDer)], now)
    assert.ok(pinnedLeaf.equals(leaf.publicKey), 'a pinned certificate anchors itself')
  })

  it('refuses an issuer that is not a CA, or a link that is not signed by its issuer', () => {
    const notCa = issue('Middle', 'Root', middle, false)
    assert.throws(() => verifyX5cChain([toX5c(leafDer), toX5c(notCa)], [toPem(rootDer)], now), {
      code: 'ERR_ATTEST_CHAIN',
    })
    const impostor = issue('Middle', 'Root', ec(), true)
    assert.throws(() => verifyX5cChain([toX5c(leafDer), toX5c(impostor)], [toPem(rootDer)], now), {
      code: 'ERR_ATTEST_CHAIN',
    })
    assert.throws(() => verifyX5cChain([toX5c(leafDer)], [toPem(rootDer)], now), {
      code: 'ERR_ATTEST_CHAIN',
    })
  })

  it('refuses certificates or a root outside their validity', () => {
    const chain = [toX5c(leafDer), toX5c(middleDer)]
    for (const at of [new Date(now.getTime() + 2 * day), new Date(now.getTime() - 2 * day)]) {
      assert.throws(() => verifyX5cChain(chain, [toPem(rootDer)], at), {
        code: 'ERR_ATTEST_EXPIRED',
      })
    }
    const oldRoot = makeCertificate({
      subject: 'Root',
      ...root,
      notBefore: new Date(now.getTime() - 3 * day),
      notAfter: new Date(now.getTime() - 2 * day),
      ca: true,
    })
    assert.throws(() => verifyX5cChain(chain, [toPem(oldRoot)], now), {
      code: 'ERR_ATTEST_EXPIRED',
    })
  })

  it('refuses malformed x5c values and unusable roots', () => {
    const pem = [toPem(rootDer)]
    for (const x5c of [
      undefined,
      [],
      'abc',
      [42],
      ['***'],
      ['AAAA'],
      Array(MAX_X5C_LENGTH + 1).fill(toX5c(leafDer)),
    ]) {
      assert.throws(() => verifyX5cChain(x5c, pem, now), { code: 'ERR_ATTEST_TOKEN' })
    }
    assert.throws(() => verifyX5cChain([toX5c(leafDer)], ['not a pem'], now), {
      code: 'ERR_ATTEST_CHAIN',
    })
  })
})
