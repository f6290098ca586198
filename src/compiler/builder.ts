/**
 * Graph construction. Every node goes through `emit`, which runs the op's shape rule at once, so a shape error is
 * reported at the model-file line that caused it, not later in a pass.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { GancError, type Site } from '../errors.ts';
import { type Attrs, type ConstData, type DType, type Node, type Shape, Value } from './ir.ts';
import { opDef, ShapeError } from './ops/registry.ts';
import './ops/index.ts';

let nextValueId = 1;

export function newValue(shape: Shape, dtype: DType): Value {
  return new Value(nextValueId++, shape, dtype);
}

const srcRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The first stack frame outside ganc's own sources and node_modules: the model file's line. */
export function callSite(): Site | undefined {
  const stack = new Error().stack?.split('\n').slice(2) ?? [];
  for (const frame of stack) {
    const m = /\(?(?:file:\/\/)?(\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(frame);
    if (!m) continue;
    const file = m[1];
    if (file.startsWith(srcRoot + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    if (file.startsWith('node:') || !file.includes(path.sep)) continue;
    return { file: path.relative(process.cwd(), file) || file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export class Builder {
  readonly nodes: Node[] = [];
  /** Site given to nodes emitted while this is set (gradient nodes inherit their forward node's site). */
  siteOverride: Site | undefined;

  emit(op: string, inputs: readonly Value[], attrs: Attrs = {}): Value[] {
    const def = opDef(op);
    const site = this.siteOverride ?? callSite();
    let types;
    try {
      types = def.infer(inputs, attrs);
    } catch (e) {
      if (e instanceof ShapeError) throw new GancError(`${def.label ?? op}: ${e.message}`, site);
      throw e;
    }
    const outputs = types.map((t) => newValue(t.shape, t.dtype));
    this.nodes.push({ op, inputs, outputs, attrs, site });
    return outputs;
  }

  emit1(op: string, inputs: readonly Value[], attrs: Attrs = {}): Value {
    return this.emit(op, inputs, attrs)[0];
  }

  constant(data: Float32Array | number[], shape: Shape, dtype: DType = 'float32'): Value {
    const value: ConstData = { kind: 'const', dtype, shape, data };
    return this.emit1('Constant', [], { value });
  }

  scalar(v: number): Value {
    return this.constant(new Float32Array([v]), []);
  }
}
