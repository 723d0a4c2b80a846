/** The in-memory emptyDir where the launcher writes the Spark auth secret after attestation. */
export const SPARK_SECRET_DIR = '/run/subrosa-spark'
/** The Spark auth secret file (mode 0600), written by `subrosa launch --spark-entrypoint`. */
export const SPARK_SECRET_FILE = `${SPARK_SECRET_DIR}/spark-auth`
/** The workload's EAR token (0600) with which the Subrosa KMS client calls the broker. */
export const SPARK_KMS_TOKEN_FILE = `${SPARK_SECRET_DIR}/kms-token`
/** The private half of the attested TEE key (JWK, 0600): it opens the broker's unwrap answers. */
export const SPARK_KMS_KEY_FILE = `${SPARK_SECRET_DIR}/kms-key.jwk`
/** Where the job's ConfigMap (plan, properties, executor template) is mounted. */
export const JOB_DIR = '/etc/subrosa/job'
/** Where the broker's CA certificate (public) is mounted. */
export const BROKER_CA_DIR = '/etc/subrosa/broker'
/** The parquet-java KmsClient that calls the broker's `/kms/v0/wrap` and `/kms/v0/unwrap`. */
export const KMS_CLIENT_CLASS = 'dev.subrosa.parquet.SubrosaKmsClient'
export const CRYPTO_FACTORY_CLASS =
  'org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory'

/**
 * Spark settings every rendered job carries, whatever the options (see docs/spark.md):
 * - RPC authentication with a secret *file* the launcher writes after attestation (never
 *   `spark.authenticate.secret`, a Kubernetes Secret or an env var, which cluster admins read);
 * - RPC encryption with AES-GCM and no SASL fallback (the default AES-CTR is unauthenticated:
 *   CVE-2025-55039);
 * - shuffle, spill and cache files encrypted with 256-bit keys;
 * - no web UI and no event log (both show query plans and literals);
 * - Parquet modular encryption through parquet-java's PropertiesDrivenCryptoFactory with the
 *   Subrosa KMS client; a footer key always set, so that no Parquet file is written in the clear.
 */
export function securityConf(broker: string, footerKey: string): Record<string, string> {
  return {
    'spark.authenticate': 'true',
    'spark.authenticate.secret.file': SPARK_SECRET_FILE,
    'spark.authenticate.secret.driver.file': SPARK_SECRET_FILE,
    'spark.authenticate.secret.executor.file': SPARK_SECRET_FILE,
    'spark.network.crypto.enabled': 'true',
    'spark.network.crypto.cipher': 'AES/GCM/NoPadding',
    'spark.network.crypto.authEngineVersion': '2',
    'spark.network.crypto.saslFallback': 'false',
    'spark.io.encryption.enabled': 'true',
    'spark.io.encryption.keySizeBits': '256',
    'spark.ui.enabled': 'false',
    'spark.eventLog.enabled': 'false',
    'spark.kubernetes.local.dirs.tmpfs': 'true',
    'spark.hadoop.parquet.crypto.factory.class': CRYPTO_FACTORY_CLASS,
    'spark.hadoop.parquet.encryption.kms.client.class': KMS_CLIENT_CLASS,
    'spark.hadoop.parquet.encryption.kms.instance.id': 'subrosa',
    'spark.hadoop.parquet.encryption.kms.instance.url': broker,
    'spark.hadoop.subrosa.kms.token.file': SPARK_KMS_TOKEN_FILE,
    'spark.hadoop.subrosa.kms.key.file': SPARK_KMS_KEY_FILE,
    'spark.hadoop.parquet.encryption.footer.key': footerKey,
    'spark.hadoop.parquet.encryption.plaintext.footer': 'false',
    'spark.hadoop.parquet.encryption.double.wrapping': 'true',
    'spark.hadoop.parquet.encryption.cache.lifetime.seconds': '600',
  }
}

/** The settings {@link securityConf} fixes, as tests and docs check them. */
export const REQUIRED_SECURITY_CONF: Readonly<Record<string, string>> = {
  'spark.authenticate': 'true',
  'spark.authenticate.secret.file': SPARK_SECRET_FILE,
  'spark.authenticate.secret.driver.file': SPARK_SECRET_FILE,
  'spark.authenticate.secret.executor.file': SPARK_SECRET_FILE,
  'spark.network.crypto.enabled': 'true',
  'spark.network.crypto.cipher': 'AES/GCM/NoPadding',
  'spark.network.crypto.saslFallback': 'false',
  'spark.io.encryption.enabled': 'true',
  'spark.io.encryption.keySizeBits': '256',
  'spark.ui.enabled': 'false',
  'spark.hadoop.parquet.crypto.factory.class': CRYPTO_FACTORY_CLASS,
  'spark.hadoop.parquet.encryption.kms.client.class': KMS_CLIENT_CLASS,
}
