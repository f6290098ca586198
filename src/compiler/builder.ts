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
/** Where ganc calls into model code: frames beyond these belong to whoever called the compiler (the CLI, a test, a
 * benchmark), so a node emitted by ganc itself (Adam, a loss's seed gradient) gets no site rather than theirs. */
const entryFiles = [path.join(srcRoot, 'compiler', 'trace_gan.ts')];

/** A stack frame's location: `at f (/abs/file.ts:12:5)`, `at /abs/file.ts:12:5` or the `file:///` URL forms. */
const FRAME = /(?:\(|\bat |\s)((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?\s*$/;

/**
 * The first stack frame outside ganc's own sources, node_modules and node's internals, before the frame where ganc
 * called into the model: the model file's line.
 * Line numbers are the .ts source's (tsx enables source maps). The stack is captured deep enough to get past the
 * DSL's own frames (a layer's op can sit ten calls below the model code).
 */
export function callSite(): Site | undefined {
  return siteFromStack(captureStack().stack ?? '');
}

/** An Error whose (unformatted) stack reaches past the DSL's frames; formatting happens when .stack is read. */
function captureStack(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  try {
    return new Error();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A call site resolved only when read: formatting a stack through tsx's source maps for every node would cost more
 * than the rest of tracing, and sites are read only for errors and --print.
 */
function lazyCallSite(): Site {
  const err = captureStack();
  let resolved: Site | undefined | null = null;
  const get = () => (resolved === null ? (resolved = siteFromStack(err.stack ?? '')) : resolved);
  return {
    get file() { return get()?.file ?? ''; },
    get line() { return get()?.line; },
    get column() { return get()?.column; },
  };
}

function siteFromStack(stack: string): Site | undefined {
  for (const frame of stack.split('\n').slice(2)) {
    const m = FRAME.exec(frame);
    if (!m) continue; // node:internal/..., native and anonymous frames have no absolute path
    let file = m[1];
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (entryFiles.includes(file)) return undefined;
    if (file.startsWith(srcRoot + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
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
    const site = this.siteOverride ?? lazyCallSite();
    let types;
    try {
      types = def.infer(inputs, attrs);
    } catch (e) {
      if (e instanceof ShapeError) throw new GancError(`${def.label ?? op}: ${e.message}`, this.siteOverride ?? callSite());
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
