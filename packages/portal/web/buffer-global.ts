// @subrosa/core and @subrosa/policy use Node's global Buffer (hex, base64, byte lengths). In the
// browser the `buffer` package stands in; this module must be imported before them (main.tsx).
import { Buffer } from 'buffer'

const g = globalThis as { Buffer?: unknown }
g.Buffer ??= Buffer
