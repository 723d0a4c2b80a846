import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

// The console reuses @subrosa/core and @subrosa/policy (canonical JSON, policy parsing and
// normalization) in the browser. Their few Node built-ins are replaced by browser shims; hashes
// are computed with WebCrypto instead (see web/policy-hash.ts). ADR 0030.
export default defineConfig({
  root: here('./web'),
  base: './',
  resolve: {
    conditions: ['source'],
    alias: {
      'node:crypto': here('./web/shims/node-crypto.ts'),
      'node:path': here('./web/shims/node-path.ts'),
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
})
