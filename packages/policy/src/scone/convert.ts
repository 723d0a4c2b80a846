import { Document } from 'yaml'
import { parseYaml } from '../document.ts'
import { PolicyError } from '../errors.ts'
import { validatePolicy } from '../policy.ts'
import { INJECT_ROOT, type Policy } from '../schema.ts'
import { mapAttestation } from './attestation.ts'
import { mapSecrets } from './secrets.ts'
import { escapeRegExp, invalid, isObject, type Json, labelOf, stringAt } from './shape.ts'

/** The result of converting a SCONE session: the policy, and what was and was not carried over. */
export type SconeConversion = {
  /** The policy document as YAML, headed by a comment listing the mapping. */
  readonly yaml: string
  /** The same policy, validated and normalized. */
  readonly policy: Policy
  /** One line per SCONE construct and the policy clause it became. */
  readonly mapped: readonly string[]
  /** One line per construct Subrosa cannot express (left out with `skipUnsupported`). */
  readonly unsupported: readonly string[]
}

/** `$$SCONE::NAME$$`, optionally with a part suffix (`.crt`, `.key`, `.chain`, `.public_key`). */
const SCONE_REFERENCE = /\$\$SCONE::([A-Za-z0-9_.-]+?)(?:\.(crt|key|chain|public_key))?\$\$/g
/** Host-supplied values: `@@N` arguments and `\@\@VAR` / `@@VAR` environment. */
const HOST_VALUE = /(?:\\@\\@|@@)[A-Za-z0-9_]+/
const PARTS: Readonly<Record<string, string>> = {
  crt: 'cert',
  key: 'private',
  chain: 'ca',
  public_key: 'public',
}

/**
 * Convert a SCONE CAS session (session language 0.3, the subset the Azure confidential Spark
 * sample uses) into a Subrosa policy. Every construct maps to a visible clause: `services` to
 * workloads (`mrenclaves` to an sgx accept clause, `environment` to `inject.env`, the arguments of
 * `command` to `inject.args`, the image's `injection_files` to `inject.files` under
 * `/run/subrosa/`), `secrets` to generated (`size`), imported (`value`, never copied) or key
 * secrets, `export` to grants, and `security.attestation` (`tolerate`, `ignore_advisories`,
 * `mode: maa`) to the TCB statuses, advisories and token issuer of the accept clauses. Host-supplied
 * values (`@@N`, `\@\@VAR`), file-system shields, volumes and CA secrets are unsupported.
 *
 * @example convertSconeSession(sessionYaml, { namespace: 'acme', owners: [ownerId] }).yaml
 * @throws PolicyError `ERR_POLICY_YAML` (not YAML), `ERR_POLICY_SCONE_INVALID` (not a session of
 * the expected shape), `ERR_POLICY_SCONE_UNSUPPORTED` (`details.unsupported` lists each construct;
 * not thrown with `skipUnsupported`), `ERR_POLICY_INVALID` (the result is not a valid policy,
 * e.g. an unrendered `$MRENCLAVE` placeholder).
 */
export function convertSconeSession(
  sessionYaml: string,
  options: {
    readonly namespace: string
    /** Owner key ids (RFC 9278 thumbprint URIs) of the new policy; threshold 1. */
    readonly owners: readonly string[]
    readonly skipUnsupported?: boolean
  },
): SconeConversion {
  const session = parseYaml(sessionYaml, 'ERR_POLICY_YAML', 'SCONE session')
  if (!isObject(session)) invalid('the session must be a mapping')
  const mapped: string[] = []
  const unsupported: string[] = []
  const name = labelOf(stringAt(session, 'name', 'name').split('/').pop() ?? '', 'name')
  mapped.push(
    `name ${String(session.name)} -> metadata: { namespace: ${options.namespace}, name: ${name} }`,
  )

  for (const key of Object.keys(session))
    if (
      ![
        'name',
        'version',
        'predecessor',
        'access_policy',
        'security',
        'services',
        'secrets',
        'images',
      ].includes(key)
    )
      unsupported.push(
        `${key}: not supported (${key === 'volumes' ? 'encrypted volumes' : 'unknown to the converter'})`,
      )
  const version = session.version
  if (version !== undefined && !/^0\.3(\.\d+)?$/.test(String(version)))
    unsupported.push(`version ${String(version)}: only session language 0.3 is understood`)
  if (session.predecessor !== undefined && session.predecessor !== null)
    mapped.push(
      'predecessor (a SCONE session hash) -> predecessor: null; the policy starts its own history',
    )

  const access = session.access_policy
  if (access !== undefined) {
    const entries = isObject(access) ? Object.entries(access) : []
    const onlyCreator = entries.every(
      ([, v]) => Array.isArray(v) && v.every((x) => x === 'CREATOR'),
    )
    if (isObject(access) && onlyCreator)
      mapped.push(
        'access_policy (CREATOR) -> owners: the owner keys given to the converter, threshold 1',
      )
    else unsupported.push('access_policy: only CREATOR entries map to owners; key hashes do not')
  }

  const { clauseOptions, tcb, debug } = mapAttestation(session, { mapped, unsupported })

  const { secrets, grants, infos } = mapSecrets(
    session,
    { namespace: options.namespace, name },
    { mapped, unsupported },
  )

  // images -> injected files
  const images = new Map<string, Json>()
  const rawImages = session.images ?? []
  if (!Array.isArray(rawImages)) invalid('images must be a list')
  rawImages.forEach((img, i) => {
    if (!isObject(img)) invalid(`images[${i}] must be a mapping`)
    images.set(stringAt(img, 'name', `images[${i}].name`), img)
    for (const key of Object.keys(img))
      if (!['name', 'injection_files'].includes(key))
        unsupported.push(
          `image ${String(img.name)}.${key}: not supported${key === 'volumes' ? ' (encrypted volumes)' : ''}`,
        )
  })

  const render = (
    text: string,
    where: string,
    target: 'env' | 'arg' | 'file',
  ): string | undefined => {
    if (HOST_VALUE.test(text)) {
      unsupported.push(
        `${where}: value taken from the untrusted host (@@); Subrosa injects only what the policy says`,
      )
      return undefined
    }
    const whole =
      text.replace(SCONE_REFERENCE, '') === '' && [...text.matchAll(SCONE_REFERENCE)].length === 1
    let failed = false
    const out = text.replace(SCONE_REFERENCE, (_m, ref: string, suffix: string | undefined) => {
      const info = infos.get(ref)
      if (info === undefined) {
        unsupported.push(`${where}: $$SCONE::${ref}$$ names no convertible secret of this session`)
        failed = true
        return ''
      }
      if (info.kind === 'ec' || info.kind === 'x509') {
        const part = PARTS[suffix ?? (info.kind === 'x509' ? 'crt' : 'key')] ?? 'private'
        return `{{secret:${info.label}.${part}}}`
      }
      // SCONE writes values verbatim; random binary only fits a whole file, ascii becomes hex.
      if (target === 'file' && whole && info.kind !== 'ascii') return `{{secret:${info.label}}}`
      return `{{secret:${info.label}:${info.kind === 'import' ? 'text' : 'hex'}}}`
    })
    return failed ? undefined : out
  }

  // services -> workloads
  const rawServices = session.services
  if (!Array.isArray(rawServices) || rawServices.length === 0)
    invalid('services must be a non-empty list')
  const moved = new Map<string, string>()
  for (const img of images.values())
    for (const f of Array.isArray(img.injection_files) ? img.injection_files : [])
      if (isObject(f) && typeof f.path === 'string')
        moved.set(f.path, `${INJECT_ROOT}${f.path.replace(/^\/+/, '')}`)
  const relocate = (text: string): string => {
    let out = text
    for (const [from, to] of moved)
      out = out.replace(new RegExp(`${escapeRegExp(from)}(?![A-Za-z0-9._/-])`, 'g'), to)
    return out
  }
  const workloads = rawServices.map((svc, i) => {
    if (!isObject(svc)) invalid(`services[${i}] must be a mapping`)
    const sconeName = stringAt(svc, 'name', `services[${i}].name`)
    const label = labelOf(sconeName, `services[${i}].name`)
    const at = `service ${sconeName}`
    for (const key of Object.keys(svc))
      if (!['name', 'mrenclaves', 'command', 'environment', 'image_name'].includes(key))
        unsupported.push(
          `${at}.${key}: not supported${key.startsWith('fspf') ? ' (SCONE file-system shield)' : ''}`,
        )
    const mrenclaves = svc.mrenclaves
    if (!Array.isArray(mrenclaves) || mrenclaves.length === 0)
      invalid(`services[${i}].mrenclaves must be a non-empty list`)
    const clause = {
      tee: 'sgx',
      mrenclave: mrenclaves.map((m) => String(m)),
      ...(clauseOptions.tcbFromIssuer === true ? {} : { tcb: [...tcb] }),
      ...clauseOptions,
    }
    mapped.push(
      `${at}.mrenclaves -> workloads[${i}].accept[0]: { tee: sgx, mrenclave: [${mrenclaves.length}] }`,
    )
    const env: Json = {}
    if (svc.environment !== undefined) {
      if (!isObject(svc.environment)) invalid(`services[${i}].environment must be a mapping`)
      for (const [k, v] of Object.entries(svc.environment)) {
        const value = render(relocate(String(v)), `${at}.environment.${k}`, 'env')
        if (value !== undefined) env[k] = value
      }
      mapped.push(`${at}.environment -> workloads[${i}].inject.env`)
    }
    let args: string[] | undefined
    if (svc.command !== undefined) {
      const [program, ...rest] = String(svc.command).trim().split(/\s+/)
      const rendered = rest.map((a, j) =>
        render(relocate(a), `${at}.command argument ${j + 1}`, 'arg'),
      )
      args = rendered.filter((a): a is string => a !== undefined)
      mapped.push(
        `${at}.command -> workloads[${i}].inject.args (${args.length}); run it as \`subrosa launch ... -- ${program ?? ''}\`: the launcher appends these arguments`,
      )
    }
    const files: Json = {}
    if (svc.image_name !== undefined) {
      const img = images.get(String(svc.image_name))
      if (img === undefined) invalid(`services[${i}].image_name names no image of the session`)
      const injection = img.injection_files ?? []
      if (!Array.isArray(injection))
        invalid(`image ${String(img.name)}.injection_files must be a list`)
      for (const f of injection) {
        if (!isObject(f) || typeof f.path !== 'string')
          invalid('injection_files entries need a path')
        const path = moved.get(f.path) as string
        const content = render(
          String(f.content ?? ''),
          `image ${String(img.name)} file ${f.path}`,
          'file',
        )
        if (content === undefined) continue
        files[path] = content
        mapped.push(
          `image ${String(img.name)} injection file ${f.path} -> workloads[${i}].inject.files["${path}"] (paths naming it are rewritten)`,
        )
      }
    }
    return {
      name: label,
      accept: [clause],
      debug,
      ...(Object.keys(env).length + Object.keys(files).length + (args?.length ?? 0) > 0
        ? {
            inject: {
              ...(Object.keys(env).length > 0 ? { env } : {}),
              ...(Object.keys(files).length > 0 ? { files } : {}),
              ...(args !== undefined && args.length > 0 ? { args } : {}),
            },
          }
        : {}),
    }
  })

  if (unsupported.length > 0 && options.skipUnsupported !== true)
    throw new PolicyError(
      'ERR_POLICY_SCONE_UNSUPPORTED',
      `The SCONE session uses ${unsupported.length} construct(s) Subrosa cannot express; see details.unsupported (or skip them explicitly)`,
      { details: { unsupported } },
    )

  const draft = {
    apiVersion: 'subrosa/v1',
    kind: 'Policy',
    metadata: { namespace: options.namespace, name, predecessor: null },
    owners: { threshold: 1, keys: [...options.owners] },
    workloads,
    ...(secrets.length > 0 ? { secrets } : {}),
    ...(grants.length > 0 ? { grants } : {}),
  }
  const policy = validatePolicy(draft)
  const doc = new Document(draft, { aliasDuplicateObjects: false })
  doc.commentBefore = [
    ` Converted from SCONE session ${String(session.name)}.`,
    ...mapped.map((m) => ` mapped: ${m}`),
    ...unsupported.map((u) => ` NOT CONVERTED: ${u}`),
  ].join('\n')
  return { yaml: doc.toString({ lineWidth: 0 }), policy, mapped, unsupported }
}
