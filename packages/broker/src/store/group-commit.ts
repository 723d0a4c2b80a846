import type { Db } from './store.ts'

// Group commit: writes that must each be durable before their caller goes on, but that all take
// one lock (the audit chain's), are run together in one transaction: one lock wait and one
// commit (one WAL flush) for every write queued meanwhile, instead of one each. The group runs
// as one call, so that it can take the lock once and write all its rows in one statement. Each
// caller still resumes only after the transaction holding its write committed.

type Pending<I, R> = {
  item: I
  resolve(value: R): void
  reject(error: unknown): void
}

type Queue<I, R> = { pending: Pending<I, R>[]; running: boolean }

/** Most writes in one group transaction. */
const MAX_GROUP = 256

/**
 * A group committer: `commit(db, item)` queues `item` on `db` and resolves with its result once
 * the transaction that ran `runGroup(tx, items)` over it and the items queued with it committed.
 * `runGroup` returns one result per item, in order. When a group fails, each of its items is
 * retried alone, so that one bad write fails only its own caller.
 */
export function groupCommitter<I, R>(
  runGroup: (tx: Db, items: readonly I[]) => Promise<readonly R[]>,
): (db: Db, item: I) => Promise<R> {
  const queues = new WeakMap<Db, Queue<I, R>>()
  const drain = async (db: Db, queue: Queue<I, R>): Promise<void> => {
    queue.running = true
    try {
      while (queue.pending.length > 0) {
        const group = queue.pending.splice(0, MAX_GROUP)
        let results: readonly R[]
        try {
          results = await db.transaction((tx) =>
            runGroup(
              tx,
              group.map((p) => p.item),
            ),
          )
        } catch (error) {
          if (group.length === 1) {
            group[0]?.reject(error)
            continue
          }
          for (const p of group) {
            try {
              const [alone] = await db.transaction((tx) => runGroup(tx, [p.item]))
              p.resolve(alone as R)
            } catch (failure) {
              p.reject(failure)
            }
          }
          continue
        }
        group.forEach((p, i) => {
          p.resolve(results[i] as R)
        })
      }
    } finally {
      queue.running = false
    }
  }
  return (db, item) => {
    let queue = queues.get(db)
    if (queue === undefined) {
      queue = { pending: [], running: false }
      queues.set(db, queue)
    }
    const q = queue
    return new Promise<R>((resolve, reject) => {
      q.pending.push({ item, resolve, reject })
      if (!q.running) void drain(db, q)
    })
  }
}

type Write = (tx: Db) => Promise<unknown>

const writes = groupCommitter<Write, unknown>(async (tx, fns) => {
  const out: unknown[] = []
  for (const fn of fns) out.push(await fn(tx))
  return out
})

/**
 * Run `fn` in a transaction on `db`, together with the other `inGroupCommit` calls queued on
 * the same `db` while the previous group committed (see {@link groupCommitter}).
 */
export function inGroupCommit<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return writes(db, fn) as Promise<T>
}
