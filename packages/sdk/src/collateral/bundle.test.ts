import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  COLLATERAL_BUNDLE_FORMAT,
  type CollateralBundle,
  dcapCollateralOf,
  intelBundleOf,
  parseCollateralBundle,
  readCollateralBundle,
  writeCollateralBundle,
} from './bundle.ts'
import { certificatePem } from './der.ts'
import { createPcsClient } from './pcs-client.ts'
import {
  haveVectors,
  PCS_VECTORS,
  pcsRoutes,
  readVector,
  readVectorText,
  startServer,
} from './test-support.ts'

const AMD = ['go-sev-guest/ask_ark_milan.pem', 'go-sev-guest/vcek.testcer']

async function fetchedBundle(): Promise<CollateralBundle> {
  const server = await startServer(pcsRoutes())
  try {
    const pcs = createPcsClient({ baseUrl: server.url })
    const intel = await pcs.getDcapCollateral({ tee: 'tdx', fmspc: '50806F000000', ca: 'platform' })
    return {
      format: COLLATERAL_BUNDLE_FORMAT,
      intel: intelBundleOf('50806F000000', intel),
      amd: {
        product: 'Milan',
        vek: certificatePem(readVector('go-sev-guest/vcek.testcer')),
        chain: readVectorText('go-sev-guest/ask_ark_milan.pem'),
        crl: Buffer.from(readVector('go-tdx-guest/rootcrl.der')).toString('base64'),
      },
      fetchedAt: '2023-07-01T01:00:00.000Z',
    }
  } finally {
    await server.close()
  }
}

describe('collateral bundles', () => {
  it('round-trips through a file, keeping signed objects and CRLs byte for byte', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS, ...AMD)) return
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-bundle-'))
    try {
      const bundle = await fetchedBundle()
      const path = join(dir, 'collateral.json')
      await writeCollateralBundle(path, bundle)
      assert.deepEqual(await readdir(dir), ['collateral.json'])
      const read = await readCollateralBundle(path)
      assert.deepEqual(read, bundle)
      const c = dcapCollateralOf(read)
      const tcbBody = readVectorText('go-tdx-guest/sample_tcbInfo_response')
      assert.ok(tcbBody.startsWith(`{"tcbInfo":${c.tcbInfo},"signature":"${c.tcbInfoSignature}"`))
      assert.deepEqual(c.pckCrl, readVector('go-tdx-guest/pckcrl'))
      assert.deepEqual(c.rootCaCrl, readVector('go-tdx-guest/rootcrl.der'))
      assert.equal(read.intel?.fmspc, '50806f000000')
      assert.ok((await readFile(path, 'utf8')).includes(`"format": "${COLLATERAL_BUNDLE_FORMAT}"`))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses malformed bundles naming the field', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS, ...AMD)) return
    const good = await fetchedBundle()
    const intel = good.intel as NonNullable<CollateralBundle['intel']>
    const amd = good.amd as NonNullable<CollateralBundle['amd']>
    const cases: [unknown, string][] = [
      [{ ...good, format: 'subrosa-collateral/v2' }, 'format'],
      [{ ...good, fetchedAt: 'yesterday' }, 'fetchedAt'],
      [{ ...good, extra: 1 }, 'bundle'],
      [{ ...good, intel: { ...intel, fmspc: 'xyz' } }, 'intel.fmspc'],
      [{ ...good, intel: { ...intel, tcbInfo: '[1]' } }, 'intel.tcbInfo'],
      [{ ...good, intel: { ...intel, tcbInfoSignature: 'ab' } }, 'intel.tcbInfoSignature'],
      [
        { ...good, intel: { ...intel, qeIdentityIssuerChain: 'PEM' } },
        'intel.qeIdentityIssuerChain',
      ],
      [{ ...good, intel: { ...intel, pckCrl: 'not base64!' } }, 'intel.pckCrl'],
      [{ ...good, intel: { ...intel, rootCaCrl: 'AAAA' } }, 'intel.rootCaCrl'],
      [{ ...good, intel: { ...intel, rootCaCrl: undefined } }, 'intel.rootCaCrl'],
      [{ ...good, intel: { ...intel, note: 'x' } }, 'intel'],
      [{ ...good, amd: { ...amd, product: 'Naples' } }, 'amd.product'],
      [{ ...good, amd: { ...amd, vek: amd.chain } }, 'amd.vek'],
      [{ ...good, amd: { ...amd, chain: amd.vek } }, 'amd.chain'],
      [{ ...good, amd: { ...amd, crl: 42 } }, 'amd.crl'],
      [[good], 'bundle'],
    ]
    for (const [value, field] of cases) {
      assert.throws(() => parseCollateralBundle(JSON.stringify(value)), {
        code: 'ERR_SDK_CONFIG',
        details: { field },
      })
    }
    assert.throws(() => parseCollateralBundle('{'), { code: 'ERR_SDK_CONFIG' })
    const { intel: _, ...amdOnly } = good
    assert.throws(() => dcapCollateralOf(parseCollateralBundle(JSON.stringify(amdOnly))), {
      code: 'ERR_SDK_CONFIG',
    })
    await assert.rejects(writeCollateralBundle('/nonexistent/dir/x.json', good), {
      code: 'ERR_SDK_CONFIG',
    })
    await assert.rejects(
      writeCollateralBundle(join(tmpdir(), 'never.json'), { ...good, fetchedAt: 'x' }),
      { code: 'ERR_SDK_CONFIG' },
    )
  })

  it('reports unreadable bundle files as configuration errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-bundle-'))
    try {
      await assert.rejects(readCollateralBundle(join(dir, 'missing.json')), {
        code: 'ERR_SDK_CONFIG',
      })
      await writeFile(join(dir, 'latin1.json'), Buffer.from([0x7b, 0xff, 0x7d]))
      await assert.rejects(readCollateralBundle(join(dir, 'latin1.json')), {
        code: 'ERR_SDK_CONFIG',
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
