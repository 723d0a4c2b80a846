/** Render rows as an aligned text table (numbers right-aligned). */
export function renderTable(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const cells = rows.map((r) => r.map(formatCell))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)))
  const numeric = columns.map((_, i) =>
    rows.every((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint' || r[i] === null),
  )
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
  const sep = widths.map((w) => '─'.repeat(w)).join('  ')
  return [line(columns), sep, ...cells.map(line)].map((l) => `  ${l.trimEnd()}`).join('\n')
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '∅'
  if (typeof value === 'number')
    return Number.isInteger(value)
      ? value.toLocaleString('en-US')
      : value.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 })
  if (typeof value === 'bigint') return value.toLocaleString('en-US')
  return String(value)
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}

/** How a {@link progressBar} draws. */
export type ProgressOptions = {
  /** Redraw one line in place (a terminal); otherwise print a line at most every second. */
  readonly tty?: boolean
  /** Draw nothing until this much time has passed (so short runs print nothing). */
  readonly delayMs?: number
  readonly now?: () => number
  /** What is counted: bytes (the default) or rows. */
  readonly unit?: 'bytes' | 'rows'
}

/**
 * A progress bar on stderr: bytes (or rows) done of total, percent and rate. Callers enable it only when
 * stderr is a terminal (or `--progress` asks) and output is not JSON, so logs and pipes stay clean.
 *
 * @example const bar = progressBar(true, io.err, 'encrypt'); bar.update(done, total); bar.done()
 */
export function progressBar(
  enabled: boolean,
  write: (text: string) => void,
  label: string,
  options: ProgressOptions = {},
) {
  const tty = options.tty ?? true
  const now = options.now ?? Date.now
  const start = now()
  let last: number | undefined
  let finished = false
  return {
    update(done: number, total: number) {
      if (!enabled || total <= 0 || finished) return
      const t = now()
      const complete = done >= total
      if (t - start < (options.delayMs ?? 0)) return
      if (!complete && last !== undefined && t - last < (tty ? 100 : 1000)) return
      last = t
      finished = complete
      const fraction = Math.min(1, done / total)
      const seconds = (t - start) / 1000
      const format =
        options.unit === 'rows' ? (n: number) => `${n.toLocaleString('en-US')} rows` : formatBytes
      const rate = seconds > 0 ? ` ${format(Math.round(done / seconds))}/s` : ''
      const counts = `${Math.floor(fraction * 100)}% ${format(done)}/${format(total)}${rate}`
      if (!tty) {
        write(`  ${label} ${counts}\n`)
        return
      }
      const width = 30
      const filled = Math.round(fraction * width)
      write(`\r  ${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${counts}`)
    },
    done() {
      if (enabled && tty && last !== undefined) write('\r\x1b[K')
    },
  }
}
