import { cpuUsage, memoryUsage } from 'node:process'
import type { LogEvent } from './context.ts'

type Labels = Readonly<Record<string, string>>

/** Seconds; from 1 ms to 10 s, enough to tell a cache hit from a collateral fetch. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** TEE names a label may carry; whatever else a client claims is counted as `other`. */
const KNOWN_TEES = new Set(['sim', 'sgx', 'tdx', 'snp', 'token'])
/** How secrets leave the broker: a policy's own secret, a grant, an injection, a KMS unwrap. */
const RELEASE_KINDS = new Set(['policy', 'grant', 'injection', 'kms'])

/** A counter or histogram family in the Prometheus text exposition format (0.0.4). */
class Family {
  readonly series = new Map<string, { labels: Labels; value: number; buckets?: number[] }>()
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly buckets: readonly number[]

  constructor(
    name: string,
    help: string,
    type: 'counter' | 'gauge' | 'histogram',
    buckets: readonly number[] = [],
  ) {
    this.name = name
    this.help = help
    this.type = type
    this.buckets = buckets
  }

  inc(labels: Labels, by = 1): void {
    this.entry(labels).value += by
  }

  set(labels: Labels, value: number): void {
    this.entry(labels).value = value
  }

  observe(labels: Labels, value: number): void {
    const e = this.entry(labels)
    e.value += value
    const counts = e.buckets ?? new Array<number>(this.buckets.length + 1).fill(0)
    e.buckets = counts
    for (let i = 0; i <= this.buckets.length; i++)
      if (i === this.buckets.length || value <= (this.buckets[i] ?? 0))
        counts[i] = (counts[i] ?? 0) + 1
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`]
    for (const { labels, value, buckets } of this.series.values()) {
      if (this.type !== 'histogram') {
        lines.push(`${this.name}${labelText(labels)} ${num(value)}`)
        continue
      }
      const counts = buckets ?? []
      this.buckets.forEach((le, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: num(le) })} ${counts[i] ?? 0}`)
      })
      const total = counts[this.buckets.length] ?? 0
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${total}`)
      lines.push(`${this.name}_sum${labelText(labels)} ${num(value)}`)
      lines.push(`${this.name}_count${labelText(labels)} ${total}`)
    }
    return lines.join('\n')
  }

  private entry(labels: Labels) {
    const key = JSON.stringify(Object.entries(labels).sort())
    let e = this.series.get(key)
    if (e === undefined) {
      e = { labels, value: 0 }
      this.series.set(key, e)
    }
    return e
  }
}

/**
 * The broker's Prometheus metrics. Labels are closed sets (route templates, methods, statuses,
 * outcomes, TEE names, release kinds): never ids of secrets, keys, sessions or tokens.
 */
export class BrokerMetrics {
  readonly #startedAt: number
  readonly #requests = new Family(
    'subrosa_http_requests_total',
    'HTTP requests answered, by route template, method and status.',
    'counter',
  )
  readonly #latency = new Family(
    'subrosa_http_request_duration_seconds',
    'Time to answer HTTP requests, by route template and method.',
    'histogram',
    LATENCY_BUCKETS,
  )
  readonly #decisions = new Family(
    'subrosa_attestation_decisions_total',
    'KBS attestation outcomes (allow, deny by policy, error) by TEE.',
    'counter',
  )
  readonly #releases = new Family(
    'subrosa_releases_total',
    'Secrets and keys released, by kind (policy, grant, injection, kms).',
    'counter',
  )
  readonly #policyChanges = new Family(
    'subrosa_policy_changes_total',
    'Policy versions applied.',
    'counter',
  )
  readonly #limited = new Family(
    'subrosa_rate_limited_total',
    'Requests refused by a rate limit, by scope (ip, owner).',
    'counter',
  )
  readonly #process = [
    new Family('process_cpu_user_seconds_total', 'User CPU time spent.', 'counter'),
    new Family('process_cpu_system_seconds_total', 'System CPU time spent.', 'counter'),
    new Family('process_resident_memory_bytes', 'Resident memory size.', 'gauge'),
    new Family('nodejs_heap_used_bytes', 'V8 heap in use.', 'gauge'),
    new Family('process_start_time_seconds', 'Start time since the Unix epoch.', 'gauge'),
    new Family('subrosa_draining', '1 while the broker drains before shutdown.', 'gauge'),
  ] as const

  constructor(startedAt: Date = new Date()) {
    this.#startedAt = startedAt.getTime() / 1000
    // Series that exist from the start, so that rate() over them works before the first event.
    for (const kind of RELEASE_KINDS) this.#releases.inc({ kind }, 0)
    this.#policyChanges.inc({}, 0)
    for (const scope of ['ip', 'owner']) this.#limited.inc({ scope }, 0)
  }

  /** Count one answered request; `route` is the route template (`unmatched` for 404s). */
  request(method: string, route: string, status: number, seconds: number): void {
    const m = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/.test(method) ? method : 'OTHER'
    this.#requests.inc({ route, method: m, status: String(status) })
    this.#latency.observe({ route, method: m }, seconds)
  }

  /** Feed a broker log event; those naming an outcome are counted. */
  observe(event: LogEvent): void {
    switch (event.event) {
      case 'attestation': {
        const tee = String(event.tee)
        const outcome =
          event.decision === 'allow'
            ? 'allow'
            : event.code === 'ERR_POLICY_DENIED'
              ? 'deny'
              : 'error'
        this.#decisions.inc({ outcome, tee: KNOWN_TEES.has(tee) ? tee : 'other' })
        break
      }
      case 'secret-release': {
        const via = String(event.via)
        this.#releases.inc({ kind: RELEASE_KINDS.has(via) ? via : 'other' })
        break
      }
      case 'policy-change':
        this.#policyChanges.inc({})
        break
      case 'rate-limited':
        this.#limited.inc({ scope: event.scope === 'owner' ? 'owner' : 'ip' })
        break
    }
  }

  /** The exposition text, with process metrics sampled now. */
  render(draining = false): string {
    const cpu = cpuUsage()
    const mem = memoryUsage()
    const [user, system, rss, heap, start, drain] = this.#process
    user.set({}, cpu.user / 1e6)
    system.set({}, cpu.system / 1e6)
    rss.set({}, mem.rss)
    heap.set({}, mem.heapUsed)
    start.set({}, this.#startedAt)
    drain.set({}, draining ? 1 : 0)
    const families = [
      this.#requests,
      this.#latency,
      this.#decisions,
      this.#releases,
      this.#policyChanges,
      this.#limited,
      ...this.#process,
    ]
    return `${families.map((f) => f.render()).join('\n')}\n`
  }
}

/** The media type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  )
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function num(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : '-Inf'
}
