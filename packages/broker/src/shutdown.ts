import type { FastifyInstance } from 'fastify'
import type { LogEvent } from './context.ts'
import type { Operations } from './operations.ts'

/** How {@link shutdownGracefully} drains. */
export type ShutdownOptions = {
  /**
   * Milliseconds between marking `/readyz` 503 and closing the listener, for load balancers to
   * take the replica out (default 0).
   */
  readonly drainDelayMs?: number
  /** Milliseconds in-flight requests get to finish before connections are cut (default 10 000). */
  readonly graceMs?: number
}

/**
 * Drain and stop a broker app: `/readyz` answers 503 at once; after `drainDelayMs` the listener
 * stops accepting, idle keep-alive connections close, requests arriving on open connections get a
 * 503 problem, and in-flight requests run to completion for at most `graceMs`; then `closeStore`.
 */
export async function shutdownGracefully(
  app: FastifyInstance,
  ops: Operations,
  log: (event: LogEvent) => void,
  closeStore: () => Promise<void>,
  options: ShutdownOptions = {},
): Promise<{ forced: boolean }> {
  const delay = Math.max(0, options.drainDelayMs ?? 0)
  const grace = Math.max(0, options.graceMs ?? 10_000)
  ops.draining = true
  log({ event: 'broker-draining', drainDelayMs: delay, graceMs: grace })
  if (delay > 0) await new Promise((done) => setTimeout(done, delay))
  ops.closing = true
  let forced = false
  let timer: NodeJS.Timeout | undefined
  const closing = app.close()
  const deadline = new Promise<void>((done) => {
    timer = setTimeout(() => {
      forced = true
      app.server.closeAllConnections?.()
      done()
    }, grace)
  })
  try {
    await Promise.race([closing, deadline])
    await closing
  } catch (error) {
    log({ event: 'shutdown-error', name: error instanceof Error ? error.name : typeof error })
  } finally {
    clearTimeout(timer)
  }
  await closeStore()
  log({ event: 'broker-stopped', forced })
  return { forced }
}
