import { toBase64 } from '@subrosa/core'
import type {
  ApplyPolicyResponse,
  AuditListResponse,
  CreateKeyResponse,
  DryRunRequest,
  DryRunResponse,
  ImportSecretResponse,
  ListSecretsResponse,
  PolicyHistoryResponse,
  PolicyVersionResponse,
} from '@subrosa/protocol'
import type { BrokerClient } from './client.ts'

/** Apply a policy (YAML text) as the client's owner. */
export async function applyPolicy(
  client: BrokerClient,
  yaml: string,
  approvals: readonly string[] = [],
): Promise<ApplyPolicyResponse> {
  const body = approvals.length === 0 ? { yaml } : { yaml, approvals }
  return (await client.call('POST', '/admin/v0/policies', { kind: 'owner' }, body))
    .body as ApplyPolicyResponse
}

/** Every version of a policy (without bodies), oldest first. */
export async function policyHistory(
  client: BrokerClient,
  namespace: string,
  name: string,
): Promise<PolicyHistoryResponse> {
  return (
    await client.call(
      'GET',
      `/admin/v0/policies/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/history`,
      { kind: 'owner' },
    )
  ).body as PolicyHistoryResponse
}

/** One version of a policy with its document as applied. */
export async function policyVersion(
  client: BrokerClient,
  namespace: string,
  name: string,
  version: number,
): Promise<PolicyVersionResponse> {
  return (
    await client.call(
      'GET',
      `/admin/v0/policies/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/versions/${version}`,
      { kind: 'owner' },
    )
  ).body as PolicyVersionResponse
}

/** Revoke the client's own owner key, for good. */
export async function revokeOwnKey(client: BrokerClient): Promise<{ owner: string }> {
  const owner = client.ownerId ?? ''
  return (await client.call('POST', '/admin/v0/owners/revoke', { kind: 'owner' }, { owner }))
    .body as { owner: string }
}

/**
 * The broker's audit log as an export (JSON lines) up to a checkpoint signed now; verify it with
 * `verifyAuditExport` from `@subrosa/protocol` against the broker's JWKS.
 */
export async function exportAudit(client: BrokerClient): Promise<string> {
  return (await client.call('GET', '/admin/v0/audit/export', { kind: 'owner' })).body as string
}

/**
 * Ask the broker what it would decide for captured evidence under a draft or stored policy.
 * Nothing is released; the broker audits the dry run.
 */
export async function dryRun(
  client: BrokerClient,
  request: DryRunRequest,
): Promise<DryRunResponse> {
  return (await client.call('POST', '/admin/v0/dry-run', { kind: 'owner' }, request))
    .body as DryRunResponse
}

/** Create (idempotently) a dataset master key `subrosa:<namespace>/<name>`. */
export async function createKey(
  client: BrokerClient,
  namespace: string,
  name: string,
): Promise<CreateKeyResponse> {
  return (await client.call('POST', '/admin/v0/keys', { kind: 'owner' }, { namespace, name }))
    .body as CreateKeyResponse
}

/**
 * Set the value of a secret its policy declares with `import: true` (replacing an earlier one).
 * The broker audits the length, never the value.
 */
export async function importSecret(
  client: BrokerClient,
  ref: { readonly namespace: string; readonly policy: string; readonly name: string },
  value: Uint8Array,
): Promise<ImportSecretResponse> {
  const path = `/admin/v0/secrets/${encodeURIComponent(ref.namespace)}/${encodeURIComponent(ref.policy)}/${encodeURIComponent(ref.name)}`
  return (await client.call('PUT', path, { kind: 'owner' }, { value: toBase64(value) }))
    .body as ImportSecretResponse
}

/** The declared secrets of a policy: kind, whether a value is stored, public key or certificate. */
export async function listSecrets(
  client: BrokerClient,
  namespace: string,
  policy: string,
): Promise<ListSecretsResponse> {
  const path = `/admin/v0/secrets/${encodeURIComponent(namespace)}/${encodeURIComponent(policy)}`
  return (await client.call('GET', path, { kind: 'owner' })).body as ListSecretsResponse
}

/** Read the audit log entries of the owner's namespaces after `after`. */
export async function readAudit(
  client: BrokerClient,
  after = 0,
  limit = 1000,
): Promise<AuditListResponse> {
  return (
    await client.call('GET', `/admin/v0/audit?after=${after}&limit=${limit}`, { kind: 'owner' })
  ).body as AuditListResponse
}

/** Who the broker thinks the owner is, and which namespaces it owns. */
export async function whoami(
  client: BrokerClient,
): Promise<{ owner: string; namespaces: string[] }> {
  return (await client.call('GET', '/admin/v0/whoami', { kind: 'owner' })).body as {
    owner: string
    namespaces: string[]
  }
}

/** The broker's public token-signing keys. */
export async function fetchJwks(
  client: BrokerClient,
): Promise<{ keys: Record<string, unknown>[] }> {
  return (await client.call('GET', '/.well-known/jwks.json', { kind: 'none' })).body as {
    keys: Record<string, unknown>[]
  }
}
