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

/**
 * A progress bar on stderr, drawn only when stderr is a terminal and output is not JSON, so
 * logs and pipes stay clean.
 */
export function progressBar(enabled: boolean, write: (text: string) => void, label: string) {
  let last = 0
  return {
    update(done: number, total: number) {
      if (!enabled || total <= 0) return
      const now = Date.now()
      if (now - last < 100 && done < total) return
      last = now
      const width = 30
      const filled = Math.round((done / total) * width)
      write(
        `\r  ${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${Math.floor((done / total) * 100)}% ${formatBytes(done)}/${formatBytes(total)}`,
      )
    },
    done() {
      if (enabled && last > 0) write('\r\x1b[K')
    },
  }
}
