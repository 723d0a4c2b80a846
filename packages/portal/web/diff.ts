/** One line of a diff: kept (' '), removed ('-') or added ('+'). */
export type DiffLine = { readonly op: ' ' | '-' | '+'; readonly text: string }

/** A line diff by longest common subsequence (policies are small). */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a.replace(/\n$/, '').split('\n')
  const y = b.replace(/\n$/, '').split('\n')
  const w = y.length + 1
  const lcs = new Uint32Array((x.length + 1) * w)
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      lcs[i * w + j] =
        x[i] === y[j]
          ? (lcs[(i + 1) * w + j + 1] as number) + 1
          : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number)
  const out: DiffLine[] = []
  let i = 0
  let j = 0
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] as string })
      i++
      j++
    } else if ((lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number))
      out.push({ op: '-', text: x[i++] as string })
    else out.push({ op: '+', text: y[j++] as string })
  }
  while (i < x.length) out.push({ op: '-', text: x[i++] as string })
  while (j < y.length) out.push({ op: '+', text: y[j++] as string })
  return out
}
