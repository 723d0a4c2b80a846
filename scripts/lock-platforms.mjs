// The package registry this project's machines reach lacks some platform-specific optional
// packages (e.g. @biomejs/cli-darwin-x64, @duckdb/node-bindings-win32-x64: 404), so `npm install`
// writes a lockfile without them and `npm ci` then refuses it as out of sync. This script adds
// the missing optional platform entries (version, os, cpu, libc; no integrity, which only the
// full registry knows) so that `npm ci` works here and elsewhere. Run it after `npm install`.
// See docs/adr/0008-lockfile-platform-packages.md.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
const packages = lock.packages
const PLATFORM =
  /-(android|darwin|linux|win32|freebsd|openbsd|netbsd|sunos|aix)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el)(-(musl|gnu|msvc))?$/
let added = 0
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const at = `node_modules/${name}`
    if (packages[at] !== undefined) continue
    const m = PLATFORM.exec(name)
    if (m === null) continue
    const libc = m[4] === 'musl' ? ['musl'] : m[1] === 'linux' ? ['glibc'] : undefined
    packages[at] = {
      version,
      cpu: [m[2]],
      ...(entry.dev === true ? { dev: true } : {}),
      ...(libc === undefined ? {} : { libc }),
      ...(entry.license === undefined ? {} : { license: entry.license }),
      optional: true,
      os: [m[1]],
      ...(entry.engines === undefined ? {} : { engines: entry.engines }),
    }
    added++
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) =>
    a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
  ),
)
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`lock-platforms: added ${added} optional platform entries`)
