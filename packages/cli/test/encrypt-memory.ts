// Child process of encrypt-stream.test.ts: runs `subrosa encrypt` and `subrosa decrypt` in this
// process on a file of <bytes> it writes first, and reports the peak resident memory the kernel
// saw after a small warm-up run (every module loaded) and after each large run.
//   <dir> <bytes>
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { runInProcess } from '../src/in-process.ts'

const [dir = '.', bytes = '0'] = process.argv.slice(2)
const key = `acme/big=${randomBytes(32).toString('hex')}`
const peak = () => process.resourceUsage().maxRSS

async function subrosa(...args: string[]): Promise<void> {
  const r = await runInProcess([...args, '--kms-key', key, '--json'], dir)
  if (r.status !== 0) throw new Error(`subrosa ${args[0]}: ${r.stderr}`)
}

// Warm-up: the same commands on a small file.
const small = openSync(join(dir, 'small.bin'), 'w')
writeSync(small, randomBytes(1 << 16))
closeSync(small)
await subrosa('encrypt', 'small.bin', 'small.srsa', '--key', 'acme/big')
await subrosa('decrypt', 'small.srsa', 'small.out')

// The large plaintext, written 1 MiB at a time (never held whole).
const fd = openSync(join(dir, 'big.bin'), 'w')
const block = randomBytes(1 << 20)
for (let done = 0; done < Number(bytes); done += block.length) {
  block[0] = done & 0xff
  writeSync(fd, block, 0, Math.min(block.length, Number(bytes) - done))
}
closeSync(fd)
const baseKiB = peak()
await subrosa('encrypt', 'big.bin', 'big.srsa', '--key', 'acme/big')
const encryptKiB = peak()
await subrosa('decrypt', 'big.srsa', 'big.out')
const decryptKiB = peak()
process.stdout.write(`${JSON.stringify({ baseKiB, encryptKiB, decryptKiB })}\n`)
