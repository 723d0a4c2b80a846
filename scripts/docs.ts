// Regenerates docs/errors.md and the CLI reference in README.md from the code.
import { readFileSync, writeFileSync } from 'node:fs'
import { errorsMarkdown, withCliReference } from '../packages/cli/src/docs.ts'

const root = new URL('..', import.meta.url)
writeFileSync(new URL('docs/errors.md', root), errorsMarkdown())
const readme = new URL('README.md', root)
writeFileSync(readme, withCliReference(readFileSync(readme, 'utf8')))
