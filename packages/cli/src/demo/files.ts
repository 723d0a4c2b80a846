import { DEMO_QUERY } from './dataset.ts'

/** The demo job document; relative URIs resolve against the bundle directory. */
export function demoJobYaml(): string {
  return `# Subrosa demo job: trips, fares and tips by payment type, over encrypted NYC-taxi-like data.
apiVersion: subrosa/v1
kind: Job
metadata:
  name: taxi-fares
policy: demo/taxi-analytics/taxi-job
engine: duckdb
inputs:
  trips:
    format: parquet
    uri: ../lake/taxi/trips.parquet
    key: demo/taxi
query: |
${DEMO_QUERY.split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
outputs:
  fares:
    format: parquet
    uri: ../lake/results/fares-by-payment.parquet
    key: demo/taxi-results
`
}

/** The demo policy: only the job with this exact measurement, on the sim TEE, gets the keys. */
export function demoPolicyYaml(ownerId: string, measurement: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata:
  namespace: demo
  name: taxi-analytics
  predecessor: null
owners:
  threshold: 1
  keys: ["${ownerId}"]
workloads:
  - name: taxi-job
    accept:
      # Development only: the sim TEE is INSECURE (no hardware protection).
      - tee: sim
        measurement: "${measurement}"
    debug: deny
    inject:
      env:
        JOB_SALT_FILE: /run/subrosa/job-salt
      files:
        /run/subrosa/job-salt: "{{secret:job-salt}}"
    keys: ["demo/taxi:unwrap", "demo/taxi-results:wrap"]
secrets:
  - name: job-salt
    generate:
      bytes: 32
`
}
