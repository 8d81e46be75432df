/**
 * Just enough of the ONNX protobuf format to build single-op benchmark graphs in code:
 * ModelProto → GraphProto (nodes, float initializers as raw_data, typed inputs/outputs).
 * Field numbers from onnx.proto3; wire format: varint keys, length-delimited messages.
 */
import { concatBytes } from '../src/util/bytes';

type Bytes = Uint8Array;

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n)); // negative int64: two's complement, 10 bytes
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const concat = concatBytes;

const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number | bigint): Bytes => new Uint8Array([...key(field, 0), ...varint(v)]);
const bytes = (field: number, b: Bytes): Bytes => concat([new Uint8Array([...key(field, 2), ...varint(b.length)]), b]);
const str = (field: number, s: string): Bytes => bytes(field, new TextEncoder().encode(s));
const f32 = (field: number, v: number): Bytes => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return concat([new Uint8Array(key(field, 5)), b]);
};

const FLOAT = 1;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[]>;
}

function attribute(name: string, value: number | number[]): Bytes {
  if (Array.isArray(value)) return concat([str(1, name), ...value.map((v) => int(8, v)), int(20, 7)]); // INTS
  return Number.isInteger(value) ? concat([str(1, name), int(3, value), int(20, 2)]) : concat([str(1, name), f32(2, value), int(20, 1)]);
}

function node(n: NodeSpec, i: number): Bytes {
  return concat([
    ...n.inputs.map((x) => str(1, x)),
    ...n.outputs.map((x) => str(2, x)),
    str(3, `${n.op}_${i}`),
    str(4, n.op),
    ...Object.entries(n.attributes ?? {}).map(([k, v]) => bytes(5, attribute(k, v))),
  ]);
}

function valueInfo(name: string, dims: number[]): Bytes {
  const shape = concat(dims.map((d) => bytes(1, int(1, d))));
  const tensorType = concat([int(1, FLOAT), bytes(2, shape)]);
  return concat([str(1, name), bytes(2, bytes(1, tensorType))]);
}

function initializer(name: string, dims: number[], data: Float32Array): Bytes {
  return concat([...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))]);
}

export interface GraphSpec {
  nodes: NodeSpec[];
  inputs: { name: string; dims: number[] }[];
  outputs: { name: string; dims: number[] }[];
  initializers?: { name: string; dims: number[]; data: Float32Array }[];
}

/** A serialized ONNX model (IR 8, default opset 17) with float32 tensors. */
export function buildOnnxModel(g: GraphSpec): Uint8Array {
  const graph = concat([
    ...g.nodes.map((n, i) => bytes(1, node(n, i))),
    str(2, 'bench'),
    ...(g.initializers ?? []).map((t) => bytes(5, initializer(t.name, t.dims, t.data))),
    ...g.inputs.map((v) => bytes(11, valueInfo(v.name, v.dims))),
    ...g.outputs.map((v) => bytes(12, valueInfo(v.name, v.dims))),
  ]);
  return concat([int(1, 8), str(2, 'fitprune-web bench'), bytes(7, graph), bytes(8, concat([str(1, ''), int(2, 17)]))]);
}
