import type { AuditEntry } from '../audit-chain.ts'

/** Policy names per namespace, as the (verified) audit log records their versions. */
export function knownPolicies(entries: readonly AuditEntry[], namespace: string): string[] {
  const names = new Set<string>()
  for (const e of entries)
    if (
      e.kind === 'policy.apply' &&
      e.namespace === namespace &&
      typeof e.data?.policy === 'string'
    )
      names.add(e.data.policy)
  return [...names].sort()
}

/** Dataset master key ids created in a namespace. */
export function knownKeys(entries: readonly AuditEntry[], namespace: string): string[] {
  const ids = new Set<string>()
  for (const e of entries)
    if (e.kind === 'key.create' && e.namespace === namespace && typeof e.data?.key === 'string')
      ids.add(e.data.key)
  return [...ids].sort()
}
