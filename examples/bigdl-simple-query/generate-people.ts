// The people table of BigDL PPML's "simple query" example (SimpleQuerySparkExample), generated
// deterministically from a seed: `name,age,job` with a header, names of 3 to 7 lowercase letters,
// ages uniform in 18..60, jobs uniform over Developer, Engineer, Researcher — the columns and
// distributions of BigDL's generate_people_csv.py, which draws from an unseeded random source.
//
//   node --import tsx examples/bigdl-simple-query/generate-people.ts people.csv 100000 [seed]
//
// prints what the simple query must answer for the file (and BigDL's own check: the number of
// developers aged 20 to 40).
import { open } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

/** The jobs BigDL's generator draws from. */
export const JOBS = ['Developer', 'Engineer', 'Researcher'] as const

/** One row of people.csv. */
export type Person = { readonly name: string; readonly age: number; readonly job: Job }
export type Job = (typeof JOBS)[number]

/** What to generate: the same seed and row count give the same file, byte for byte. */
export type PeopleOptions = { readonly seed: number; readonly rows: number }

/** The header line of people.csv. */
export const PEOPLE_HEADER = 'name,age,job'

/** The simple query's answer for one job: people aged 20 to 40, how many and their mean age. */
export type SimpleQueryRow = {
  readonly job: Job
  readonly count: number
  readonly average_age: number
}

/**
 * Mulberry32: a 32-bit state, one multiply-xorshift round per draw; floats in [0, 1).
 * Not for secrets: test data only.
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/**
 * The people, one at a time (any row count in constant memory).
 *
 * @example [...generatePeople({ seed: 1, rows: 2 })] // [{ name: 'qkz', age: 37, job: 'Engineer' }, ...]
 * @throws RangeError for a row count that is not a non-negative safe integer, or a seed that is
 * not an integer.
 */
export function* generatePeople(options: PeopleOptions): Generator<Person> {
  if (!Number.isSafeInteger(options.rows) || options.rows < 0)
    throw new RangeError('rows must be a non-negative integer')
  if (!Number.isInteger(options.seed)) throw new RangeError('seed must be an integer')
  const random = mulberry32(options.seed)
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
  for (let i = 0; i < options.rows; i++) {
    const length = between(3, 7)
    let name = ''
    for (let c = 0; c < length; c++) name += String.fromCharCode(between(97, 122))
    const age = between(18, 60)
    const job = JOBS[between(0, JOBS.length - 1)] as Job
    yield { name, age, job }
  }
}

/** Accumulates the simple query's answer one person at a time. */
function answerBuilder() {
  const sums = new Map<Job, { count: number; ages: number }>()
  return {
    add(p: Person): void {
      if (p.age < 20 || p.age > 40) return
      const s = sums.get(p.job) ?? { count: 0, ages: 0 }
      s.count++
      s.ages += p.age
      sums.set(p.job, s)
    },
    rows(): SimpleQueryRow[] {
      return [...sums.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([job, s]) => ({ job, count: s.count, average_age: s.ages / s.count }))
    },
  }
}

/**
 * What the simple query answers over `people`: for each job, the people aged 20 to 40 (both
 * included, as Spark's `between`), their count and mean age; ordered by job.
 *
 * @example simpleQueryAnswer(generatePeople({ seed: 42, rows: 1000 }))[0]?.job // 'Developer'
 */
export function simpleQueryAnswer(people: Iterable<Person>): SimpleQueryRow[] {
  const answer = answerBuilder()
  for (const p of people) answer.add(p)
  return answer.rows()
}

/**
 * Write people.csv (`\n` line ends, a header) in 64 KiB writes, never holding the file, and
 * return the simple query's answer for it.
 *
 * @example const { answer } = await writePeopleCsv('people.csv', { seed: 42, rows: 100_000 })
 * @throws RangeError as {@link generatePeople}; the file system's errors.
 */
export async function writePeopleCsv(
  path: string,
  options: PeopleOptions,
): Promise<{ rows: number; bytes: number; answer: SimpleQueryRow[] }> {
  const file = await open(path, 'w', 0o600)
  const answer = answerBuilder()
  let bytes = 0
  let batch = `${PEOPLE_HEADER}\n`
  try {
    for (const p of generatePeople(options)) {
      answer.add(p)
      batch += `${p.name},${p.age},${p.job}\n`
      if (batch.length >= 1 << 16) {
        bytes += (await file.write(batch)).bytesWritten
        batch = ''
      }
    }
    bytes += (await file.write(batch)).bytesWritten
  } finally {
    await file.close()
  }
  return { rows: options.rows, bytes, answer: answer.rows() }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, rows, seed = '42'] = process.argv.slice(2)
  if (path === undefined || rows === undefined || !/^\d+$/.test(rows) || !/^-?\d+$/.test(seed)) {
    process.stderr.write('usage: generate-people.ts <people.csv> <rows> [seed]\n')
    process.exit(2)
  }
  const r = await writePeopleCsv(path, { seed: Number(seed), rows: Number(rows) })
  const developers = r.answer.find((a) => a.job === 'Developer')?.count ?? 0
  process.stdout.write(
    `Wrote ${r.rows} people (${r.bytes} bytes) to ${path}\n` +
      `Num of Developer age between 20,40 is ${developers}\n` +
      `${JSON.stringify({ seed: Number(seed), rows: r.rows, answer: r.answer })}\n`,
  )
}
