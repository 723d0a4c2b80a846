// Removing leaf columns from FileMetaData: the schema elements (and groups left empty), the
// column chunks of every row group, and the column orders.
import { CryptoError } from '../errors.ts'
import {
  columnChunksOf,
  FILE_META_DATA,
  ROW_GROUP,
  rowGroupsOf,
  SCHEMA_ELEMENT,
} from './metadata.ts'
import { getField, i32, listOf, optional, setField, type ThriftStruct } from './thrift-compact.ts'

type Node = { element: ThriftStruct; children: Node[]; leaf: number | undefined }

function malformed(message: string): never {
  throw new CryptoError('ERR_PARQUET_MALFORMED', message)
}

function schemaTree(elements: ThriftStruct[]): Node {
  let next = 0
  let leaves = 0
  const walk = (depth: number): Node => {
    const element = elements[next++]
    if (element === undefined || depth > 64) malformed('The schema is not a tree')
    const count = optional(element, SCHEMA_ELEMENT.numChildren, 'i32', 'num_children')?.value
    const isLeaf =
      depth > 0 && (count === undefined || getField(element, SCHEMA_ELEMENT.type) !== undefined)
    if (isLeaf) return { element, children: [], leaf: leaves++ }
    const children: Node[] = []
    for (let i = 0; i < (count ?? 0); i++) children.push(walk(depth + 1))
    return { element, children, leaf: undefined }
  }
  return walk(0)
}

/** Prunes dropped leaves; a group whose children are all dropped goes too. */
function prune(node: Node, drop: ReadonlySet<number>): Node | undefined {
  if (node.leaf !== undefined) return drop.has(node.leaf) ? undefined : node
  const children = node.children.map((c) => prune(c, drop)).filter((c) => c !== undefined)
  if (children.length === 0 && node.children.length > 0) return undefined
  setField(node.element, SCHEMA_ELEMENT.numChildren, i32(children.length))
  return { ...node, children }
}

function flatten(node: Node, out: ThriftStruct[]): ThriftStruct[] {
  out.push(node.element)
  for (const child of node.children) flatten(child, out)
  return out
}

/**
 * Remove leaf columns (by leaf ordinal) from the footer, in place.
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` for a schema that is not a tree.
 */
export function dropColumns(fileMetaData: ThriftStruct, leaves: readonly number[]): void {
  const drop = new Set(leaves)
  const schema = listOf(fileMetaData, FILE_META_DATA.schema, 'struct', 'schema') ?? []
  const root = prune(schemaTree(schema.map((v) => v.value)), drop)
  if (root === undefined) malformed('No column would be left')
  setField(fileMetaData, FILE_META_DATA.schema, {
    type: 'list',
    elementType: 'struct',
    value: flatten(root, []).map((value) => ({ type: 'struct', value })),
  })
  for (const group of rowGroupsOf(fileMetaData)) {
    setField(group, ROW_GROUP.columns, {
      type: 'list',
      elementType: 'struct',
      value: columnChunksOf(group)
        .filter((_, i) => !drop.has(i))
        .map((value) => ({ type: 'struct', value })),
    })
  }
  const orders = getField(fileMetaData, FILE_META_DATA.columnOrders)
  if (orders?.type === 'list') {
    setField(fileMetaData, FILE_META_DATA.columnOrders, {
      ...orders,
      value: orders.value.filter((_, i) => !drop.has(i)),
    })
  }
}
