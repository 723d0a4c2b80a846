/** A policy for broker tests: one sim workload, one generated secret, key grants. */
export function testPolicyYaml(
  ownerId: string,
  measurement: string,
  options: { predecessor?: string; debug?: 'allow' | 'deny' } = {},
): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata:
  namespace: acme
  name: analytics
  predecessor: ${options.predecessor === undefined ? 'null' : `"${options.predecessor}"`}
owners:
  threshold: 1
  keys: ["${ownerId}"]
workloads:
  - name: job
    accept:
      - tee: sim
        measurement: "${measurement}"
    debug: ${options.debug ?? 'deny'}
    inject:
      env:
        TOKEN_FILE: /run/subrosa/db-token
        PEPPER_HEX: "{{secret:pepper:hex}}"
      files:
        /run/subrosa/db-token: "{{secret:db-token}}"
    keys: ["acme/taxi:unwrap", "acme/results:wrap"]
secrets:
  - name: db-token
    generate: { bytes: 32 }
  - name: pepper
    generate: { bytes: 16 }
  - name: unused
    generate: { bytes: 16 }
`
}
