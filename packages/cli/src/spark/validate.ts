import { Ajv, type ValidateFunction } from 'ajv'
import { ConfigMap, Pod } from 'kubernetes-models/v1'
import { parse } from 'yaml'
import { CliError } from '../errors.ts'
import type { Manifest } from './render.ts'
import schema from './sparkapplication.schema.json' with { type: 'json' }

let compiled: ValidateFunction | undefined
/** The schema, compiled on first use (no work at import time). */
function sparkApplicationValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(schema)
  return compiled
}

function invalid(kind: string, reasons: readonly string[]): never {
  throw new CliError(
    'ERR_SPARK_MANIFEST',
    `The rendered ${kind} does not validate: ${reasons.slice(0, 5).join('; ')}`,
    { details: { kind, errors: [...reasons] } },
  )
}

function checkCore(kind: string, build: () => { validate(): void }): void {
  try {
    build().validate()
  } catch (error) {
    invalid(kind, [error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)])
  }
}

/** A pod template (driver, executor) checked as the Pod it becomes. */
function checkTemplate(kind: string, template: unknown): void {
  const t = template as { metadata?: unknown; spec?: unknown }
  checkCore(kind, () => new Pod({ metadata: t.metadata ?? {}, spec: t.spec } as never))
}

/**
 * Validate rendered manifests offline: the SparkApplication against the JSON schema written in
 * this repository for the fields Subrosa renders (`sparkapplication.schema.json`), its driver and
 * executor templates (also the raw pod's, in its ConfigMap) and every Pod and ConfigMap against
 * the Kubernetes OpenAPI models
 * (`kubernetes-models`).
 *
 * @throws CliError `ERR_SPARK_MANIFEST` (`details.kind`, `details.errors`).
 */
export function validateManifests(manifests: readonly Manifest[]): void {
  for (const m of manifests) {
    if (m.kind === 'SparkApplication') {
      const validateSparkApplication = sparkApplicationValidator()
      if (!validateSparkApplication(m))
        invalid(
          'SparkApplication',
          (validateSparkApplication.errors ?? []).map(
            (e) => `${e.instancePath || '/'} ${e.message ?? ''}`,
          ),
        )
      const spec = m.spec as { driver: { template: unknown }; executor: { template: unknown } }
      checkTemplate('driver template', spec.driver.template)
      checkTemplate('executor template', spec.executor.template)
    } else if (m.kind === 'Pod') checkCore('Pod', () => new Pod(m as never))
    else if (m.kind === 'ConfigMap') {
      checkCore('ConfigMap', () => new ConfigMap(m as never))
      // The raw pod's executor template is a Pod file the driver hands to Spark.
      const template = (m.data as Record<string, string> | undefined)?.['executor-template.yaml']
      if (template !== undefined)
        checkCore('executor template', () => new Pod(parse(template) as never))
    } else invalid(m.kind, ['not a kind the Spark renderer emits'])
  }
}
