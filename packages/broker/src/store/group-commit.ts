import type { Db } from './store.ts'

// Group commit: writes that must each be durable before their caller goes on, but that all take
// one lock (the audit chain's), are run together in one transaction: one lock wait and one
// commit (one WAL flush) for every write queued meanwhile, instead of one each. Each caller
// still resumes only after the transaction holding its write committed.

type Pending = {
  run(tx: Db): Promise<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
}

type Queue = { pending: Pending[]; running: boolean }

const queues = new WeakMap<Db, Queue>()

/** Most writes in one group transaction. */
const MAX_GROUP = 256

/**
 * Run `fn` in a transaction on `db`, together with the other `inGroupCommit` calls queued on
 * the same `db` while the previous group committed. When a group fails, each of its writes is
 * retried alone, so that one bad write fails only its own caller.
 */
export function inGroupCommit<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  let queue = queues.get(db)
  if (queue === undefined) {
    queue = { pending: [], running: false }
    queues.set(db, queue)
  }
  const q = queue
  return new Promise<T>((resolve, reject) => {
    q.pending.push({ run: fn, resolve: resolve as (v: unknown) => void, reject })
    if (!q.running) void drain(db, q)
  })
}

async function drain(db: Db, queue: Queue): Promise<void> {
  queue.running = true
  try {
    while (queue.pending.length > 0) {
      const group = queue.pending.splice(0, MAX_GROUP)
      let results: unknown[]
      try {
        results = await db.transaction(async (tx) => {
          const out: unknown[] = []
          for (const p of group) out.push(await p.run(tx))
          return out
        })
      } catch (error) {
        if (group.length === 1) {
          group[0]?.reject(error)
          continue
        }
        for (const p of group) {
          try {
            p.resolve(await db.transaction((tx) => p.run(tx)))
          } catch (alone) {
            p.reject(alone)
          }
        }
        continue
      }
      group.forEach((p, i) => {
        p.resolve(results[i])
      })
    }
  } finally {
    queue.running = false
  }
}
