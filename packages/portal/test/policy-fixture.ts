// A policy for the portal's tests: one sim workload, one generated secret, one key grant.

export const MEASUREMENT = 'ab'.repeat(48)
export const OTHER_MEASUREMENT = 'cd'.repeat(48)

export function policyYaml(owner: string, measurement: string, predecessor: string | null): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata:
  namespace: acme
  name: analytics
  predecessor: ${predecessor === null ? 'null' : `"${predecessor}"`}
owners:
  threshold: 1
  keys: ["${owner}"]
workloads:
  - name: job
    accept:
      - tee: sim
        measurement: "${measurement}"
    debug: deny
    keys: ["acme/taxi:unwrap"]
secrets:
  - name: db-token
    generate: { bytes: 32 }
`
}
