// Shared by the benchmarks: wall time of one run, and the median of several.

/** Seconds one run of `f` takes. */
export async function seconds(f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint()
  await f()
  return Number(process.hrtime.bigint() - t) / 1e9
}

/** The median (upper middle for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
}
