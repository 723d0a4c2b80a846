import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { ERROR_CATALOG, errorsMarkdown, withCliReference } from './docs.ts'

const root = new URL('../../../', import.meta.url)

describe('docs match the code', () => {
  it('docs/errors.md lists every error code (run `npm run docs` after adding one)', () => {
    assert.equal(readFileSync(new URL('docs/errors.md', root), 'utf8'), errorsMarkdown())
  })

  it("README's CLI reference is the commands' --help (run `npm run docs`)", () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8')
    assert.equal(readme, withCliReference(readme))
  })

  it('error codes are unique across packages and follow ERR_<AREA>_<WHAT>', () => {
    const seen = new Set<string>()
    for (const { codes } of ERROR_CATALOG) {
      for (const code of Object.keys(codes)) {
        assert.match(code, /^ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/)
        assert.equal(seen.has(code), false, `${code} is defined twice`)
        seen.add(code)
      }
    }
  })
})
