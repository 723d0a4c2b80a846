/**
 * Schema migrations, applied in order, identical for PGlite (embedded default) and PostgreSQL.
 * Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE broker_state (
  name text PRIMARY KEY,
  value bytea NOT NULL
);
CREATE TABLE owners (
  id text PRIMARY KEY,
  jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE namespaces (
  name text PRIMARY KEY,
  owners jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE policies (
  namespace text NOT NULL,
  name text NOT NULL,
  version integer NOT NULL,
  hash text NOT NULL,
  yaml text NOT NULL,
  doc jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  PRIMARY KEY (namespace, name, version)
);
CREATE TABLE master_keys (
  namespace text NOT NULL,
  name text NOT NULL,
  sealed bytea NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  PRIMARY KEY (namespace, name)
);
CREATE TABLE secrets (
  namespace text NOT NULL,
  policy text NOT NULL,
  name text NOT NULL,
  sealed bytea NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, policy, name)
);
CREATE TABLE kbs_sessions (
  id text PRIMARY KEY,
  nonce text NOT NULL UNIQUE,
  tee text NOT NULL,
  workload text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  token text
);
CREATE TABLE admin_proofs (
  jti text PRIMARY KEY,
  owner text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE audit_log (
  seq bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  namespace text,
  data jsonb NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_log_namespace ON audit_log (namespace, seq);
`,
  },
  {
    // Namespace key hierarchy (#5): one random key per namespace, sealed by the root key; master
    // keys and secrets are sealed by their namespace's key. Stores with root-sealed rows from
    // before this migration are refused at start (ERR_BROKER_STATE): none were deployed. The
    // indexes keep the per-request purge of expired KBS sessions and admin proofs cheap.
    version: 2,
    sql: `
CREATE TABLE namespace_keys (
  namespace text PRIMARY KEY,
  sealed bytea NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX kbs_sessions_expires_at ON kbs_sessions (expires_at);
CREATE INDEX admin_proofs_expires_at ON admin_proofs (expires_at);
`,
  },
  {
    // Governance: owner revocation, policy predecessors and approvals, signed audit checkpoints.
    version: 3,
    sql: `
ALTER TABLE owners ADD COLUMN revoked_at timestamptz;
ALTER TABLE owners ADD COLUMN revoked_by text;
ALTER TABLE policies ADD COLUMN predecessor text;
ALTER TABLE policies ADD COLUMN approvals jsonb NOT NULL DEFAULT '[]'::jsonb;
CREATE TABLE audit_checkpoints (
  seq bigint PRIMARY KEY,
  head text NOT NULL,
  at text NOT NULL,
  signature text NOT NULL
);
`,
  },
  {
    // Secret kinds: what a stored secret is (bytes, ec, rsa, x509, import) and its public,
    // non-secret facts (generation spec, public key and certificate PEM, expiry).
    version: 4,
    sql: `
ALTER TABLE secrets ADD COLUMN kind text NOT NULL DEFAULT 'bytes';
ALTER TABLE secrets ADD COLUMN meta jsonb;
ALTER TABLE secrets ADD COLUMN updated_at timestamptz;
`,
  },
  {
    // Per-job identity and revocation (#7, ADR 0026): a KBS session may name a job (a Spark
    // application's id); tokens issued in it are recorded by id so that revoking the job makes
    // every replica refuse them. Revocations are permanent: a job id is never reused.
    version: 5,
    sql: `
ALTER TABLE kbs_sessions ADD COLUMN job text;
CREATE TABLE workload_tokens (
  jti text PRIMARY KEY,
  workload text NOT NULL,
  job text NOT NULL,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX workload_tokens_job ON workload_tokens (workload, job);
CREATE INDEX workload_tokens_expires_at ON workload_tokens (expires_at);
CREATE TABLE job_revocations (
  workload text NOT NULL,
  job text NOT NULL,
  revoked_at timestamptz NOT NULL,
  revoked_by text NOT NULL,
  reason text NOT NULL,
  PRIMARY KEY (workload, job)
);
`,
  },
]
