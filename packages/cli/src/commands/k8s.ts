import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type Command, positionals, stringOption } from '../command.ts'
import { CliError } from '../errors.ts'
import {
  DEFAULT_OPTIONS,
  kustomizeDirectory,
  OVERLAYS,
  type OverlayName,
  type RenderOptions,
  renderObjects,
  toYamlStream,
} from '../k8s/index.ts'

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
// [registry[:port]/]path[:tag][@sha256:digest], lower-case path components.
const IMAGE =
  /^(?:[A-Za-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

/**
 * The render options a command line asks for.
 *
 * @throws CliError `ERR_CLI_USAGE` for an unknown overlay, a namespace that is not a DNS label
 * (at most 53 characters: overlays add `-workloads`), replicas outside 1..100 (exactly 1 for
 * pglite), or an image that is not an image reference.
 */
export function renderOptionsOf(flags: {
  overlay?: string | undefined
  namespace?: string | undefined
  replicas?: string | undefined
  image?: string | undefined
}): RenderOptions {
  const overlay = flags.overlay ?? 'base'
  if (!(OVERLAYS as readonly string[]).includes(overlay))
    throw new CliError('ERR_CLI_USAGE', `--overlay must be one of ${OVERLAYS.join(', ')}`)
  const namespace = flags.namespace ?? DEFAULT_OPTIONS.namespace
  if (namespace.length > 53 || !NAMESPACE.test(namespace))
    throw new CliError(
      'ERR_CLI_USAGE',
      '--namespace must be a DNS label (a-z, 0-9, -) of at most 53 characters',
    )
  const single = overlay === 'pglite'
  const replicasText = flags.replicas ?? (single ? '1' : String(DEFAULT_OPTIONS.replicas))
  const replicas = /^[1-9][0-9]{0,2}$/.test(replicasText) ? Number(replicasText) : 0
  if (replicas < 1 || replicas > 100)
    throw new CliError('ERR_CLI_USAGE', '--replicas must be an integer from 1 to 100')
  if (single && replicas !== 1)
    throw new CliError(
      'ERR_CLI_USAGE',
      '--overlay pglite runs exactly one replica (PGlite is one process; use base with PostgreSQL to scale)',
    )
  const image = flags.image ?? DEFAULT_OPTIONS.image
  if (image.length > 255 || !IMAGE.test(image))
    throw new CliError(
      'ERR_CLI_USAGE',
      '--image must be an image reference (name[:tag][@sha256:...])',
    )
  return { overlay: overlay as OverlayName, namespace, replicas, image }
}

/** `subrosa k8s render` */
export const k8sRender: Command = {
  path: ['k8s', 'render'],
  summary: 'Render the broker Kubernetes manifests (the objects of deploy/) for an overlay.',
  usage:
    '[--overlay base|pglite|sgx|sgx-aks|cvm] [--namespace ns] [--replicas n] [--image ref] [-o dir]',
  description:
    'Overlays: base (N broker replicas on PostgreSQL), pglite (one broker, state on a volume), sgx (SGX\n' +
    "nodes with Intel's device plugin, EPC, DCAP quote helper and collateral cache), sgx-aks (the same on\n" +
    'AKS confcom node pools), cvm (confidential-VM node pools, configfs-tsm for launched workloads).\n' +
    'Output is multi-document YAML on stdout, or with -o one file per object plus a kustomization.yaml.\n' +
    'Secrets appear only as references (subrosa-postgres/url, subrosa-unseal-key/unseal.key); create\n' +
    'them in the cluster (docs/deploy-kubernetes.md). With default flags the output equals what\n' +
    '`kubectl kustomize deploy/base` (or deploy/overlays/<overlay>) builds.',
  json: true,
  options: {
    overlay: {
      type: 'string',
      value: 'name',
      description: `Overlay: ${OVERLAYS.join(' | ')}`,
      default: 'base',
    },
    namespace: {
      type: 'string',
      value: 'ns',
      description: 'Namespace of the broker',
      default: DEFAULT_OPTIONS.namespace,
    },
    replicas: {
      type: 'string',
      value: 'n',
      description: `Broker replicas (default ${DEFAULT_OPTIONS.replicas}; pglite: 1)`,
    },
    image: {
      type: 'string',
      value: 'ref',
      description: 'Image whose entrypoint is subrosa; pin it by digest',
      default: DEFAULT_OPTIONS.image,
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'dir',
      description: 'Write one file per object and a kustomization.yaml here (default: stdout)',
    },
  },
  async run(inv) {
    positionals(inv, this, [])
    const options = renderOptionsOf({
      overlay: stringOption(inv, 'overlay'),
      namespace: stringOption(inv, 'namespace'),
      replicas: stringOption(inv, 'replicas'),
      image: stringOption(inv, 'image'),
    })
    if (!options.image.includes('@sha256:'))
      inv.io.err(`note: image ${options.image} is not pinned by digest (@sha256:...)\n`)
    const objects = renderObjects(options)
    const summary = {
      ...options,
      objects: objects.map((o) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name,
        ...(o.metadata.namespace === undefined ? {} : { namespace: o.metadata.namespace }),
      })),
    }
    const output = stringOption(inv, 'output')
    if (output === undefined) {
      const yaml = toYamlStream(objects)
      inv.io.out(inv.json ? JSON.stringify({ ...summary, yaml }) : yaml.trimEnd())
      return 0
    }
    const dir = resolve(inv.io.cwd, output)
    const files = kustomizeDirectory(objects, options.namespace)
    try {
      await mkdir(dir, { recursive: true })
      for (const [file, text] of files) await writeFile(join(dir, file), text)
    } catch (cause) {
      throw new CliError('ERR_CLI_FILE', `Cannot write the manifests to ${dir}`, { cause })
    }
    const written = [...files.keys()].map((f) => join(dir, f))
    inv.io.out(
      inv.json
        ? JSON.stringify({ ...summary, files: written })
        : `Wrote ${objects.length} objects (${options.overlay}) to ${dir}`,
    )
    return 0
  },
}
