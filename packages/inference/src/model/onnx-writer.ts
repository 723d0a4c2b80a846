// A dependency-free writer of the ONNX protobuf messages a small model needs. Field numbers are
// those of onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, ...);
// the protobuf wire format is written by hand: varints, tags, length-delimited fields.
import { concatBytes, utf8 } from '@subrosa/core'

/** TensorProto.DataType FLOAT. */
export const ONNX_FLOAT = 1

/** A float tensor stored in the graph (weights, constants). */
export type OnnxInitializer = {
  readonly name: string
  readonly dims: readonly number[]
  readonly data: Float32Array
}

/** A graph input or output: a float tensor whose dimensions are sizes or symbolic names. */
export type OnnxValueInfo = { readonly name: string; readonly dims: readonly (number | string)[] }

/** One operator of the graph (only INTS attributes are supported). */
export type OnnxNode = {
  readonly opType: string
  readonly name: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly intsAttributes?: Readonly<Record<string, readonly number[]>>
}

/** What {@link encodeOnnxModel} writes. */
export type OnnxModel = {
  readonly irVersion: number
  readonly opsetVersion: number
  readonly producerName: string
  readonly producerVersion: string
  readonly docString: string
  readonly graph: {
    readonly name: string
    readonly nodes: readonly OnnxNode[]
    readonly initializers: readonly OnnxInitializer[]
    readonly inputs: readonly OnnxValueInfo[]
    readonly outputs: readonly OnnxValueInfo[]
  }
  /** ModelProto.metadata_props, written in the order given. */
  readonly metadata?: Readonly<Record<string, string>>
}

const VARINT = 0
const LEN = 2

function varint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Not a varint: ${value}`)
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}

function tag(field: number, wire: number): Uint8Array {
  return varint(field * 8 + wire)
}

function intField(field: number, value: number): Uint8Array {
  return concatBytes(tag(field, VARINT), varint(value))
}

function bytesField(field: number, bytes: Uint8Array): Uint8Array {
  return concatBytes(tag(field, LEN), varint(bytes.length), bytes)
}

function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, utf8(text))
}

function tensor(t: OnnxInitializer): Uint8Array {
  const raw = new Uint8Array(t.data.length * 4)
  const view = new DataView(raw.buffer)
  t.data.forEach((x, i) => {
    view.setFloat32(i * 4, x, true)
  })
  return concatBytes(
    ...t.dims.map((d) => intField(1, d)),
    intField(2, ONNX_FLOAT),
    stringField(8, t.name),
    bytesField(9, raw),
  )
}

function valueInfo(v: OnnxValueInfo): Uint8Array {
  const shape = concatBytes(
    ...v.dims.map((d) => bytesField(1, typeof d === 'number' ? intField(1, d) : stringField(2, d))),
  )
  const tensorType = concatBytes(intField(1, ONNX_FLOAT), bytesField(2, shape))
  return concatBytes(stringField(1, v.name), bytesField(2, bytesField(1, tensorType)))
}

function node(n: OnnxNode): Uint8Array {
  const attributes = Object.entries(n.intsAttributes ?? {}).map(([name, ints]) =>
    bytesField(
      5,
      concatBytes(stringField(1, name), ...ints.map((i) => intField(8, i)), intField(20, 7)),
    ),
  )
  return concatBytes(
    ...n.inputs.map((i) => stringField(1, i)),
    ...n.outputs.map((o) => stringField(2, o)),
    stringField(3, n.name),
    stringField(4, n.opType),
    ...attributes,
  )
}

/**
 * Encode a model as ONNX protobuf bytes (deterministic: same model, same bytes).
 *
 * @example const bytes = encodeOnnxModel({ irVersion: 8, opsetVersion: 13, ... })
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const g = model.graph
  const graph = concatBytes(
    ...g.nodes.map((n) => bytesField(1, node(n))),
    stringField(2, g.name),
    ...g.initializers.map((t) => bytesField(5, tensor(t))),
    ...g.inputs.map((v) => bytesField(11, valueInfo(v))),
    ...g.outputs.map((v) => bytesField(12, valueInfo(v))),
  )
  const opset = concatBytes(stringField(1, ''), intField(2, model.opsetVersion))
  const metadata = Object.entries(model.metadata ?? {}).map(([key, value]) =>
    bytesField(14, concatBytes(stringField(1, key), stringField(2, value))),
  )
  return concatBytes(
    intField(1, model.irVersion),
    stringField(2, model.producerName),
    stringField(3, model.producerVersion),
    stringField(6, model.docString),
    bytesField(7, graph),
    bytesField(8, opset),
    ...metadata,
  )
}
