import { randomBytes as nodeRandomBytes } from 'node:crypto'

/** The current time, injected so verifiers and stores never read the wall clock themselves. */
export type Clock = () => Date

/** A source of cryptographically secure random bytes, injected for the same reason. */
export type RandomBytes = (length: number) => Uint8Array

/** The system clock; apps pass it in, libraries take a `Clock`. */
export const systemClock: Clock = () => new Date()

/** The system CSPRNG. */
export const systemRandom: RandomBytes = (length) => new Uint8Array(nodeRandomBytes(length))
