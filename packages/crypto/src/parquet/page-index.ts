// OffsetIndex rewriting: page locations follow the pages to their new offsets and sizes.
import { CryptoError } from '../errors.ts'
import { i32, i64, listOf, setField, type ThriftStruct } from './thrift-compact.ts'

const OFFSET_INDEX = { pageLocations: 1 } as const
const PAGE_LOCATION = { offset: 1, compressedPageSize: 2 } as const

/**
 * The OffsetIndex with each data page's location replaced by where the transcode wrote it
 * (`offset` of the page header, `compressed_page_size` = header and page as stored).
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` when the index lists another number of pages.
 */
export function remapOffsetIndex(
  index: ThriftStruct,
  pages: readonly { offset: number; size: number }[],
  where: { rowGroup: number; column: number },
): ThriftStruct {
  const locations = listOf(index, OFFSET_INDEX.pageLocations, 'struct', 'page_locations') ?? []
  if (locations.length !== pages.length) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      `The offset index of column ${where.column} in row group ${where.rowGroup} lists ${locations.length} pages, the chunk has ${pages.length}`,
      { details: where },
    )
  }
  locations.forEach((location, i) => {
    const page = pages[i] as { offset: number; size: number }
    setField(location.value, PAGE_LOCATION.offset, i64(page.offset))
    setField(location.value, PAGE_LOCATION.compressedPageSize, i32(page.size))
  })
  return index
}
