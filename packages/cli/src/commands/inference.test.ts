// `subrosa model train` in process; `subrosa serve-model` as a child process against a broker
// over loopback HTTPS (the inference protocol itself is tested in packages/inference).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { generateSimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom, toHex } from '@subrosa/core'
import { encryptModel, WDBC_CSV_PATH } from '@subrosa/inference'
import { measureBundlePath } from '@subrosa/launcher'
import { generateOwnerKey, verifyEarToken } from '@subrosa/protocol'
import { applyPolicy, BrokerClient, createKey, createOwnerKms } from '@subrosa/sdk'
import { cliEntry } from '../entry.ts'
import { runInProcess } from '../in-process.ts'

const skip = existsSync(WDBC_CSV_PATH)
  ? false
  : `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`

function getJson(url: string, certPem: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(url, { ca: certPem }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        }),
      )
    })
      .on('error', reject)
      .end()
  })
}

describe('subrosa model train and serve-model', { skip }, () => {
  let dir: string
  let broker: RunningBroker
  let admin: BrokerClient
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-cli-inference-'))
  })
  after(async () => {
    admin?.close()
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('trains the same model twice, byte for byte', async () => {
    const a = await runInProcess(['model', 'train', '--out', 'a.onnx', '--json'], dir)
    assert.equal(a.status, 0, a.stderr)
    const b = await runInProcess(['model', 'train', '--out', 'b.onnx', '--json'], dir)
    const ra = JSON.parse(a.stdout) as { sha256: string; testAccuracy: number; bytes: number }
    assert.equal((JSON.parse(b.stdout) as { sha256: string }).sha256, ra.sha256)
    assert.ok(ra.testAccuracy >= 0.95)
    assert.deepEqual(await readFile(join(dir, 'a.onnx')), await readFile(join(dir, 'b.onnx')))
    const bad = await runInProcess(['model', 'train', '--csv', 'absent.csv', '--json'], dir)
    assert.equal(bad.status, 1)
    assert.equal(JSON.parse(bad.stdout).error.code, 'ERR_INFER_DATASET')
  })

  it('serve-model needs --caller or --open', async () => {
    const r = await runInProcess(
      ['serve-model', '--model', 'a.onnx', '--workload', 'a/b/c', '--json'],
      dir,
    )
    assert.equal(r.status, 2)
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_CLI_USAGE')
  })

  it('serves the encrypted model as an attested workload until SIGTERM', async () => {
    const owner = await generateOwnerKey()
    const sim = await generateSimPlatformKey()
    broker = await startBroker({
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
      port: 0,
    })
    admin = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
    await createKey(admin, 'dx', 'model')
    const model = join(dir, 'model.onnx.srsa')
    await writeFile(
      model,
      await encryptModel(await readFile(join(dir, 'a.onnx')), {
        kms: createOwnerKms(admin),
        masterKeyId: 'subrosa:dx/model',
      }),
    )
    const measurement = toHex((await measureBundlePath(model)).measurement)
    await applyPolicy(
      admin,
      `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: dx, name: diagnostics, predecessor: null }
owners: { threshold: 1, keys: ["${owner.id}"] }
workloads:
  - name: inference
    accept: [{ tee: sim, measurement: "${measurement}" }]
    keys: ["dx/model:unwrap"]
`,
    )
    await writeFile(join(dir, 'ca.pem'), broker.caPem)
    await writeFile(join(dir, 'sim.jwk'), JSON.stringify(sim.privateJwk), { mode: 0o600 })
    const entry = cliEntry()
    const child = spawn(
      entry.execPath,
      [
        ...entry.execArgv,
        entry.main,
        'serve-model',
        ...['--model', model, '--workload', 'dx/diagnostics/inference', '--open'],
        ...['--broker', broker.url, '--ca', join(dir, 'ca.pem'), '--sim-key', 'sim.jwk'],
        ...['--port', '0', '--json'],
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0] as string)
      })
      void exited.then((code) => reject(new Error(`serve-model exited ${code}: ${stderr}`)))
    })
    const summary = JSON.parse(line) as { url: string; tlsCertSha256: string; modelSha256: string }
    assert.match(summary.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    // The certificate the test pins is the one the service reports (the token will bind it).
    const certPem = await new Promise<string>((resolve, reject) => {
      const req = request(`${summary.url}/v1/attestation`, { rejectUnauthorized: false }, (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate()
        res.resume()
        resolve(
          `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`,
        )
      })
      req.on('error', reject)
      req.end()
    })
    const der = Buffer.from(certPem.split('\n')[1] as string, 'base64')
    assert.equal(createHash('sha256').update(der).digest('base64url'), summary.tlsCertSha256)
    const res = await getJson(`${summary.url}/v1/attestation`, certPem)
    assert.equal(res.status, 200)
    const claims = await verifyEarToken((res.body as { token: string }).token, {
      jwks: broker.jwks,
      issuer: broker.context.issuer,
      now: new Date(),
    })
    assert.equal(claims['subrosa.workload'].workload, 'inference')
    assert.equal(claims['subrosa.tls-cert-sha256'], summary.tlsCertSha256, 'the token binds it')
    child.kill('SIGTERM')
    assert.equal(await exited, 0, stderr)
    assert.match(stderr, /INSECURE/)
  })
})
