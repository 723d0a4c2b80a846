import { invalid, isObject, type Json, labelOf, type Report, stringAt } from './shape.ts'

/** How a session secret became a policy secret, for rewriting `$$SCONE::NAME$$` references. */
export type SecretInfo = {
  readonly label: string
  readonly kind: 'bytes' | 'ascii' | 'import' | 'ec' | 'x509'
}

/**
 * Map `secrets[]` to policy secrets (generated, imported, key pairs, certificates) and their
 * `export`s to grants. Imported values are never copied.
 */
export function mapSecrets(
  session: Json,
  options: { readonly namespace: string; readonly name: string },
  report: Report,
): { secrets: Json[]; grants: Json[]; infos: Map<string, SecretInfo> } {
  const { mapped, unsupported } = report
  const name = options.name
  const secrets: Json[] = []
  const grants: Json[] = []
  const infos = new Map<string, SecretInfo>()
  const rawSecrets = session.secrets ?? []
  if (!Array.isArray(rawSecrets)) invalid('secrets must be a list')
  rawSecrets.forEach((s, i) => {
    if (!isObject(s)) invalid(`secrets[${i}] must be a mapping`)
    const sconeName = stringAt(s, 'name', `secrets[${i}].name`)
    const label = labelOf(sconeName, `secrets[${i}].name`)
    const kind = String(s.kind ?? 'binary')
    const at = `secret ${sconeName}`
    for (const key of Object.keys(s))
      if (
        ![
          'name',
          'kind',
          'size',
          'value',
          'export',
          'import',
          'dns',
          'common_name',
          'issuer',
        ].includes(key)
      )
        unsupported.push(`${at}.${key}: not supported`)
    if (s.import !== undefined) {
      unsupported.push(
        `${at}.import (from another session): grant it in the exporting policy instead`,
      )
      return
    }
    let spec: Json
    let info: SecretInfo
    if (s.value !== undefined) {
      // The value itself is never copied into the policy, a message or a list.
      spec = { name: label, import: true }
      info = { label, kind: 'import' }
      mapped.push(
        `${at} (value given) -> secrets: { name: ${label}, import: true }; import the value with \`subrosa secret import ${options.namespace}/${name}/${label}\``,
      )
    } else if (kind === 'ascii' || kind === 'binary') {
      const size = s.size ?? 32
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 16 || size > 1024) {
        unsupported.push(`${at}.size ${String(size)}: generated secrets are 16..1024 bytes`)
        return
      }
      spec = { name: label, generate: { bytes: size } }
      info = { label, kind: kind === 'ascii' ? 'ascii' : 'bytes' }
      mapped.push(
        `${at} (kind ${kind}, size ${size}) -> secrets: { name: ${label}, generate: { bytes: ${size} } }${kind === 'ascii' ? ', injected as hex text' : ''}`,
      )
    } else if (kind === 'private-key') {
      spec = { name: label, generate: { type: 'ec', curve: 'P-256' } }
      info = { label, kind: 'ec' }
      mapped.push(
        `${at} (kind private-key) -> secrets: { name: ${label}, generate: { type: ec, curve: P-256 } }`,
      )
    } else if (kind === 'x509') {
      const dns =
        s.dns === undefined ? [] : Array.isArray(s.dns) ? s.dns.map(String) : [String(s.dns)]
      const uri = `spiffe://${options.namespace}/${name}/${label}`
      spec = { name: label, generate: { type: 'x509', uri, ...(dns.length > 0 ? { dns } : {}) } }
      info = { label, kind: 'x509' }
      mapped.push(
        `${at} (kind x509) -> secrets: { name: ${label}, generate: { type: x509, uri: ${uri} } }, issued by the broker CA${s.issuer === undefined ? '' : ` (not by ${String(s.issuer)})`}`,
      )
    } else {
      unsupported.push(
        `${at} (kind ${kind}): not supported${kind === 'x509-ca' ? ' (the broker CA issues all certificates)' : ''}`,
      )
      return
    }
    if (infos.has(sconeName) || [...infos.values()].some((x) => x.label === label))
      invalid(`secrets[${i}].name: ${sconeName} maps to ${label}, which another secret uses`)
    infos.set(sconeName, info)
    secrets.push(spec)
    const exports = s.export === undefined ? [] : Array.isArray(s.export) ? s.export : [s.export]
    for (const e of exports) {
      const target = typeof e === 'string' ? e : isObject(e) ? e.session : undefined
      const ns = isObject(e) && typeof e.namespace === 'string' ? e.namespace : options.namespace
      if (typeof target !== 'string') {
        unsupported.push(`${at}.export: an entry without a session`)
        continue
      }
      const to = `${ns}/${labelOf(target.split('/').pop() ?? '', `${at}.export`)}`
      grants.push({ secret: label, to })
      mapped.push(`${at}.export to ${target} -> grants: { secret: ${label}, to: ${to} }`)
    }
  })

  return { secrets, grants, infos }
}
