import { createHash, X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { type ClerkPortalOptions, PORTAL_DIST, servePortal } from '@subrosa/portal'
import { type Command, type Invocation, listOption, stringOption } from '../command.ts'
import { brokerConnection, CONNECTION_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'
import { untilStopSignal } from '../signals.ts'

/**
 * base64(SHA-256(SPKI)) of the certificate the broker serves, read over a TLS connection that
 * verifies it against the pinned CA: Chromium's `--ignore-certificate-errors-spki-list` format.
 */
async function brokerSpkiPin(url: string, caPem: string): Promise<string> {
  const { hostname, port } = new URL(url)
  const der = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port || 443), ca: caPem, servername: hostname },
      () => {
        resolve(socket.getPeerCertificate().raw)
        socket.end()
      },
    )
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')))
    socket.on('error', reject)
  }).catch((cause: unknown) => {
    throw new CliError(
      'ERR_CLI_PORTAL',
      `The broker at ${url} does not answer with a certificate of the pinned CA`,
      { cause },
    )
  })
  const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

/** The clerk portal's service and expectation, when `--service` is given. */
function clerkOptions(inv: Invocation): ClerkPortalOptions | undefined {
  const service = stringOption(inv, 'service')
  if (service === undefined) return undefined
  const workload = stringOption(inv, 'service-workload')
  const measurement = listOption(inv, 'service-measurement')
  const signer = listOption(inv, 'service-signer')
  if (!service.startsWith('https://'))
    throw new CliError('ERR_CLI_USAGE', '--service must be an https:// URL')
  if (workload === undefined || !/^[^/\s]+\/[^/\s]+\/[^/\s]+$/.test(workload))
    throw new CliError('ERR_CLI_USAGE', '--service-workload <ns/policy/workload> is required')
  if (measurement.length === 0 && signer.length === 0)
    throw new CliError(
      'ERR_CLI_USAGE',
      '--service-measurement or --service-signer is required with --service',
    )
  const tcb = listOption(inv, 'service-tcb')
  return {
    service,
    workload,
    measurement,
    signer,
    audience: stringOption(inv, 'service-audience') ?? 'api',
    allowSim: inv.options['allow-sim'] === true,
    ...(tcb.length === 0 ? {} : { tcbStatuses: tcb }),
  }
}

/** `subrosa portal` */
export const portal: Command = {
  path: ['portal'],
  summary:
    'Serve the custodian console and the clerk portal (web UI) on loopback; it talks only to the broker and the service.',
  usage: '[--broker url] [--port n] [options]',
  json: true,
  description:
    'Serves packages/portal/dist (npm run build -w @subrosa/portal) on http://127.0.0.1:<port> with a\n' +
    'Content-Security-Policy that allows requests to the broker (and --service) only. The broker must allow the\n' +
    'origin: `broker start --cors-origin http://127.0.0.1:<port>`. The browser must trust the broker\n' +
    'certificate: import the broker CA, or start Chromium with the printed SPKI pin. Stop with Ctrl-C.\n' +
    'With --service, the clerk portal (#/clerk) sends records to that attested service after\n' +
    'verifying its token in the browser against the broker JWKS, --service-workload and\n' +
    '--service-measurement; the CSP then allows that origin too, and the service must list the\n' +
    "portal origin for CORS and the clerk's public key (ADR 0031).",
  options: {
    ...CONNECTION_OPTIONS,
    port: { type: 'string', value: 'n', description: 'Port on 127.0.0.1', default: '8080' },
    service: {
      type: 'string',
      value: 'url',
      description: 'Clerk portal: the attested service records go to (https)',
    },
    'service-workload': {
      type: 'string',
      value: 'ns/policy/name',
      description: 'Clerk portal: the workload the service must be attested as',
    },
    'service-measurement': {
      type: 'string',
      value: 'hex',
      multiple: true,
      description: 'Clerk portal: an accepted measurement of the service',
    },
    'service-signer': {
      type: 'string',
      value: 'hex',
      multiple: true,
      description: 'Clerk portal: an accepted signer (MRSIGNER, SNP author key digest)',
    },
    'service-tcb': {
      type: 'string',
      value: 'status',
      multiple: true,
      description: 'Clerk portal: an accepted TCB status (default UpToDate)',
    },
    'service-audience': {
      type: 'string',
      value: 'name',
      description: 'Clerk portal: the service name clerk proofs are for',
      default: 'api',
    },
    'allow-sim': {
      type: 'boolean',
      description: 'Clerk portal: accept a service in the sim TEE (shown as not secure)',
    },
  },
  async run(inv) {
    const port = Number(stringOption(inv, 'port'))
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new CliError('ERR_CLI_USAGE', '--port must be 1..65535')
    const clerk = clerkOptions(inv)
    if (!existsSync(join(PORTAL_DIST, 'index.html')))
      throw new CliError(
        'ERR_CLI_PORTAL',
        'The portal is not built: run npm run build -w @subrosa/portal',
      )
    const { url, caPem } = await brokerConnection(inv)
    if (!url.startsWith('https://'))
      throw new CliError('ERR_CLI_USAGE', '--broker must be an https:// URL')
    const pin = await brokerSpkiPin(url, caPem)
    const stopped = untilStopSignal()
    const running = await servePortal({
      broker: url,
      port,
      ...(clerk === undefined ? {} : { clerk }),
    }).catch((cause: unknown) => {
      throw new CliError('ERR_CLI_PORTAL', `Cannot listen on 127.0.0.1:${port}`, { cause })
    })
    inv.io.out(
      inv.json
        ? `${JSON.stringify({ url: `${running.url}/`, broker: url, corsOrigin: running.url, spkiPin: pin, ...(clerk === undefined ? {} : { clerk: `${running.url}/#/clerk`, service: clerk.service }) })}\n`
        : `Portal ${running.url}/ (broker ${url})\n` +
            (clerk === undefined
              ? ''
              : `  clerk portal ${running.url}/#/clerk -> ${clerk.service} (it must allow --cors-origin ${running.url})\n`) +
            `  the broker must allow it: subrosa broker start --cors-origin ${running.url} ...\n` +
            `  Chromium trusting this broker certificate: --ignore-certificate-errors-spki-list=${pin}\n`,
    )
    await stopped
    await running.close()
    return 0
  },
}
