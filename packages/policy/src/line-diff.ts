/** One line of a diff: kept (' '), removed ('-') or added ('+'). */
export type DiffLine = { readonly op: ' ' | '-' | '+'; readonly text: string }

/** Above this many cells the table would be large; the diff is then all-removed, all-added. */
const MAX_CELLS = 4_000_000

/**
 * A line diff of two texts by longest common subsequence: every line of `a` not kept is removed,
 * every line of `b` not kept is added, in order. Policy documents are small; very large inputs
 * get a whole-document replacement instead of a minimal diff.
 *
 * @example
 * lineDiff('a\nb\n', 'a\nc\n') // [' a', '-b', '+c']
 */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = splitLines(a)
  const y = splitLines(b)
  if (x.length * y.length > MAX_CELLS) {
    return [
      ...x.map((text) => ({ op: '-' as const, text })),
      ...y.map((text) => ({ op: '+' as const, text })),
    ]
  }
  const w = y.length + 1
  // lcs[i * w + j]: length of the LCS of x[i..] and y[j..]
  const lcs = new Uint32Array((x.length + 1) * w)
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i * w + j] =
        x[i] === y[j]
          ? (lcs[(i + 1) * w + j + 1] as number) + 1
          : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number)
    }
  }
  const out: DiffLine[] = []
  let i = 0
  let j = 0
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] as string })
      i++
      j++
    } else if ((lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number)) {
      out.push({ op: '-', text: x[i++] as string })
    } else out.push({ op: '+', text: y[j++] as string })
  }
  while (i < x.length) out.push({ op: '-', text: x[i++] as string })
  while (j < y.length) out.push({ op: '+', text: y[j++] as string })
  return out
}

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}
