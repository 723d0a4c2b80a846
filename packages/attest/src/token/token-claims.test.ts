import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  EAR_ISSUER,
  earPayload,
  issuers,
  MAA_ISSUER,
  maaAzureVmPayload,
  maaSgxPayload,
  maaTdxPayload,
  makeTestPki,
  NOW,
  SGX,
  SNP,
  signToken,
  snpTeeClaims,
  T,
} from './test-tokens.ts'
import { mapClaims, verifyAttestationToken } from './verify-attestation-token.ts'

describe('attestation token claims', async () => {
  const pki = await makeTestPki()
  const options = { issuers: issuers(pki), now: NOW }
  const signMaa = (payload: Record<string, unknown>) =>
    signToken(payload, pki.maa.privateKey, { alg: 'RS256', kid: 'maa-1', typ: 'JWT' })
  const signEar = (payload: Record<string, unknown>) =>
    signToken(payload, pki.ear.privateKey, { alg: 'ES256', kid: 'ear-1', typ: 'JWT' })

  it('maps an MAA SGX token, with no TCB status', async () => {
    const payload = maaSgxPayload()
    const verdict = await verifyAttestationToken(await signMaa(payload), options)
    assert.deepEqual(verdict.claims, {
      tee: 'sgx',
      insecure: false,
      debug: false,
      mrenclave: SGX.mrenclave,
      mrsigner: SGX.mrsigner,
      isvProdId: 1,
      isvSvn: 3,
      reportData: SGX.reportData,
      source: { kind: 'token', issuer: MAA_ISSUER, raw: payload },
    })
    assert.equal(verdict.claims.tcbStatus, undefined)
    assert.equal(verdict.issuer, MAA_ISSUER)
    assert.equal(verdict.kind, 'maa')
    assert.equal(verdict.tokenId, payload.jti)
    assert.deepEqual(verdict.expiresAt, new Date((T + 8 * 3600) * 1000))
  })

  it('leaves report data unknown when an SGX token carries only x-ms-sgx-ehd', async () => {
    const { 'x-ms-sgx-report-data': _, ...payload } = maaSgxPayload()
    const { claims } = await verifyAttestationToken(await signMaa(payload), options)
    assert.equal(claims.tee, 'sgx')
    assert.equal('reportData' in claims, false)
  })

  it('maps an Azure confidential VM token (SEV-SNP isolation TEE)', async () => {
    const payload = maaAzureVmPayload()
    const { claims } = await verifyAttestationToken(await signMaa(payload), options)
    assert.deepEqual(claims, {
      tee: 'snp',
      insecure: false,
      debug: false,
      measurement: SNP.measurement,
      guestSvn: 7,
      vmpl: 0,
      reportData: SNP.reportData,
      hostData: SNP.hostData,
      idKeyDigest: SNP.idKeyDigest,
      authorKeyDigest: '00'.repeat(48),
      familyId: `01${'00'.repeat(15)}`,
      imageId: `02${'00'.repeat(15)}`,
      reportId: SNP.reportId,
      migrationAgent: false,
      smtAllowed: true,
      reportedTcb: { bootloader: 4, tee: 0, snp: 21, microcode: 211 },
      source: { kind: 'token', issuer: MAA_ISSUER, raw: payload },
    })
  })

  it('maps a top-level SevSnpVm token; claims it lacks stay absent', async () => {
    const tee = snpTeeClaims()
    delete tee['x-ms-sevsnpvm-hostdata']
    delete tee['x-ms-sevsnpvm-tee-svn']
    const payload = { iss: MAA_ISSUER, iat: T, exp: T + 60, ...tee }
    const { claims } = await verifyAttestationToken(await signMaa(payload), options)
    assert.equal(claims.tee, 'snp')
    assert.equal(claims.measurement, SNP.measurement)
    assert.equal('hostData' in claims, false)
    assert.equal('reportedTcb' in claims, false, 'a partial TCB is not reported')
  })

  it('maps a TdxVm token with its attester TCB status', async () => {
    const payload = maaTdxPayload()
    const { claims } = await verifyAttestationToken(await signMaa(payload), options)
    assert.equal(claims.tee, 'tdx')
    assert.equal(claims.tee === 'tdx' && claims.mrtd, '22'.repeat(48))
    assert.equal(claims.tee === 'tdx' && claims.rtmr2, '32'.repeat(48))
    assert.equal(claims.tee === 'tdx' && claims.xfam, 'e742060000000000')
    assert.equal(claims.tcbStatus, 'UpToDate')
    assert.equal(claims.debug, false)
    assert.equal(claims.reportData, 'ee'.repeat(64))
  })

  it('refuses a TDX debug claim that contradicts the TD attributes', async () => {
    const payload = { ...maaTdxPayload(), tdx_td_attributes: '0100001000000000' }
    await assert.rejects(verifyAttestationToken(await signMaa(payload), options), {
      code: 'ERR_ATTEST_TOKEN',
    })
  })

  it('refuses missing, ill-typed and unknown claims', async () => {
    const cases: Record<string, unknown>[] = [
      { ...maaSgxPayload(), 'x-ms-sgx-mrenclave': undefined },
      { ...maaSgxPayload(), 'x-ms-sgx-svn': '3' },
      { ...maaSgxPayload(), 'x-ms-sgx-mrsigner': 'zz'.repeat(32) },
      { ...maaSgxPayload(), 'x-ms-sgx-is-debuggable': 'false' },
      { ...maaSgxPayload(), 'x-ms-attestation-type': undefined },
      { ...maaTdxPayload(), attester_tcb_status: 'Fine' },
      { ...maaAzureVmPayload(), 'x-ms-isolation-tee': 'sevsnpvm' },
    ]
    for (const payload of cases) {
      await assert.rejects(verifyAttestationToken(await signMaa(payload), options), {
        code: 'ERR_ATTEST_TOKEN',
      })
    }
  })

  it('refuses attestation types without a mapping', async () => {
    for (const type of ['tpm', 'vbs']) {
      const payload = { ...maaSgxPayload(), 'x-ms-attestation-type': type }
      await assert.rejects(verifyAttestationToken(await signMaa(payload), options), {
        code: 'ERR_ATTEST_UNSUPPORTED_TEE',
      })
    }
    const vm = maaAzureVmPayload()
    vm['x-ms-isolation-tee'] = { 'x-ms-attestation-type': 'vbs' }
    await assert.rejects(verifyAttestationToken(await signMaa(vm), options), {
      code: 'ERR_ATTEST_UNSUPPORTED_TEE',
    })
  })

  const simClaims = {
    tee: 'sim',
    insecure: true,
    debug: false,
    measurement: 'ab'.repeat(48),
    svn: 3,
    reportData: '07'.repeat(64),
    platformKey: 'thumbprint',
  }
  const snpClaims = {
    tee: 'snp',
    insecure: false,
    debug: false,
    measurement: SNP.measurement,
    guestSvn: 2,
    vmpl: 0,
    chipId: 'ab'.repeat(64),
    product: 'Milan',
    reportedTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
    tcbStatus: 'UpToDate',
  }

  it('maps a sim EAR back to insecure sim claims', async () => {
    const payload = earPayload(simClaims)
    const verdict = await verifyAttestationToken(await signEar(payload), options)
    assert.deepEqual(verdict.claims, {
      ...simClaims,
      source: { kind: 'token', issuer: EAR_ISSUER, raw: payload },
    })
    assert.equal(verdict.claims.insecure, true)
    assert.equal(verdict.kind, 'ear')
  })

  it('maps a hardware EAR back to its annotated claims', async () => {
    const payload = earPayload(snpClaims)
    const { claims } = await verifyAttestationToken(await signEar(payload), options)
    assert.deepEqual(claims, {
      ...snpClaims,
      source: { kind: 'token', issuer: EAR_ISSUER, raw: payload },
    })
  })

  it('refuses EARs whose insecurity, TEE or status contradict each other', async () => {
    const lying = earPayload(snpClaims)
    lying['subrosa.insecure'] = true
    const simSecure = earPayload({ ...simClaims, insecure: false })
    const teeMismatch = { ...earPayload(simClaims), 'subrosa.tee': 'sgx' }
    const contraindicated = earPayload(snpClaims)
    const cpu0 = (contraindicated.submods as { cpu0: Record<string, unknown> }).cpu0
    cpu0['ear.status'] = 'contraindicated'
    const noProfile = { ...earPayload(snpClaims), eat_profile: 'other' }
    for (const payload of [lying, simSecure, teeMismatch, contraindicated, noProfile]) {
      await assert.rejects(verifyAttestationToken(await signEar(payload), options), {
        code: 'ERR_ATTEST_TOKEN',
      })
    }
  })

  it('maps by content for a generic issuer', () => {
    const source = { kind: 'token', issuer: 'x', raw: {} } as const
    assert.equal(mapClaims('generic', earPayload(simClaims), source).tee, 'sim')
    assert.equal(mapClaims('generic', maaSgxPayload(), source).tee, 'sgx')
    assert.throws(() => mapClaims('generic', { iss: 'x' }, source), { code: 'ERR_ATTEST_TOKEN' })
    assert.throws(() => mapClaims('maa', earPayload(simClaims), source), {
      code: 'ERR_ATTEST_TOKEN',
    })
  })
})
