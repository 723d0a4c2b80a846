// Browser stand-in for node:path's posix.normalize, which the policy schema uses to check that
// injected file paths are already normal.
function normalize(path: string): string {
  const absolute = path.startsWith('/')
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop()
      else if (!absolute) out.push('..')
    } else out.push(part)
  }
  const joined = out.join('/')
  const trailing = path.endsWith('/') && joined !== '' ? '/' : ''
  if (absolute) return `/${joined}${trailing}`
  return joined === '' ? '.' : `${joined}${trailing}`
}

export const posix = { normalize }
export default { posix }
