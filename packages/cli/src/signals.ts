/**
 * Resolves at the first SIGINT or SIGTERM. Both handlers are removed then, so a second signal
 * stops the process at once while a server drains. Call it before the server announces itself,
 * so that no signal is missed.
 */
export function untilStopSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      done()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
