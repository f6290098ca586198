/**
 * The tracing context a model runs in: which graph is being built, the parameters and state tensors met so far
 * (shared by all graphs of one compile), and the name scopes that give parameters stable names.
 */
import { GancError, type Site } from '../errors.ts';
import { Builder, callSite, newValue } from '../compiler/builder.ts';
import type { DType, Role, Shape, Value } from '../compiler/ir.ts';
import type { Init } from './init.ts';
import type { Tensor } from './tensor.ts';

/** Role of a tensor a model creates: trained, or state a layer carries from step to step (not trained). */
export type StateRole = 'param' | 'bn_state' | 'sn_state';

/** Prefix of the moving-average copies of the generator's state (`ema/g/linear_0/w`). */
export const EMA_PREFIX = 'ema/';

/** Rewrites a layer's weight before use (spectral normalization); `outAxis` is the weight's output-channel axis. */
export type WeightHook = (w: Tensor, outAxis: number) => Tensor;

export interface TensorSpec {
  name: string;
  /** Top-level scope: 'g' or 'd'. */
  network: string;
  shape: number[];
  init: Init;
  role: StateRole;
  site?: Site;
}

interface Scope {
  name: string;
  counters: Map<string, number>;
}

export interface GraphInputInfo {
  name: string;
  value: Value;
  role: Role;
}

export class Trace {
  readonly inputs = new Map<string, GraphInputInfo>();
  /** New values of state tensors (BN running statistics) proposed in this graph, by state name. */
  readonly stateUpdates = new Map<string, Value>();
  /** Applied to the weight of every conv2d, deconv2d and linear layer while set (innermost last). */
  readonly weightHooks: WeightHook[] = [];
  private scopes: Scope[] = [];
  /** Set while tracing the moving-average generator (see `averaged`): its parameter values. */
  private averagedParams: ReadonlyMap<string, Value> | undefined;

  constructor(
    readonly builder: Builder,
    readonly training: boolean,
    readonly specs: Map<string, TensorSpec>,
  ) {}

  input(name: string, shape: Shape, role: Role, dtype: DType = 'float32'): Value {
    const existing = this.inputs.get(name);
    if (existing) return existing.value;
    const value = newInput(shape, dtype);
    this.inputs.set(name, { name, value, role });
    return value;
  }

  /** Run `fn` as network `name` (a fresh scope: calling a network twice reuses its parameters). */
  network<T>(name: string, fn: () => T): T {
    const saved = this.scopes;
    this.scopes = [{ name, counters: new Map() }];
    try {
      return fn();
    } finally {
      this.scopes = saved;
    }
  }

  get networkName(): string | undefined {
    return this.scopes[0]?.name;
  }

  /** Run a layer in a sub-scope named `explicit` or `<type>_<n>`, counted per enclosing scope. */
  layer<T>(type: string, explicit: string | undefined, fn: () => T): T {
    const parent = this.scopes[this.scopes.length - 1];
    if (!parent) throw new GancError(`${type} must be called inside the generator or the discriminator`, callSite());
    let name = explicit;
    if (!name) {
      const n = parent.counters.get(type) ?? 0;
      parent.counters.set(type, n + 1);
      name = `${type}_${n}`;
    }
    this.scopes.push({ name, counters: new Map() });
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A trainable parameter (or a state tensor) of the current scope, created on first use. */
  tensor(local: string, shape: number[], init: Init, role: StateRole): Value {
    if (!this.scopes.length) throw new GancError(`parameter '${local}' must be created inside the generator or the discriminator`, callSite());
    const name = [...this.scopes.map((s) => s.name), local].join('/');
    const prev = this.specs.get(name);
    if (prev) {
      if (prev.shape.join() !== shape.join()) {
        throw new GancError(`parameter ${name} reused with shape [${shape}] but was created with [${prev.shape}]`, callSite());
      }
    } else {
      if (shape.some((d) => !Number.isInteger(d) || d < 1)) throw new GancError(`parameter ${name} has invalid shape [${shape}]`, callSite());
      this.specs.set(name, { name, network: this.scopes[0].name, shape, init, role, site: callSite() });
    }
    if (this.averagedParams) {
      if (role !== 'param') return this.input(EMA_PREFIX + name, shape, 'ema');
      const v = this.averagedParams.get(name);
      if (!v) throw new GancError(`parameter ${name} has no moving average (it is not a parameter of the network averaged)`, callSite());
      return v;
    }
    return this.input(name, shape, role);
  }

  /**
   * Run `fn` (a network) as the moving-average copy of itself: parameters read `params` (by name), other state
   * (batch-norm statistics) reads and updates `ema/<name>` inputs with role 'ema' instead of its own.
   */
  averaged<T>(params: ReadonlyMap<string, Value>, fn: () => T): T {
    this.averagedParams = params;
    try {
      return fn();
    } finally {
      this.averagedParams = undefined;
    }
  }

  updateState(name: string, value: Value): void {
    this.stateUpdates.set(name, value);
  }

  /** Full name a local state tensor gets in the current scope. */
  scopedName(local: string): string {
    return (this.averagedParams ? EMA_PREFIX : '') + [...this.scopes.map((s) => s.name), local].join('/');
  }
}

function newInput(shape: Shape, dtype: DType): Value {
  return newValue(shape, dtype);
}

let current: Trace | undefined;

export function currentTrace(): Trace {
  if (!current) throw new GancError('tensor operations can only run while ganc compiles a model (inside the functions given to gan({...}))', callSite());
  return current;
}

export function withTrace<T>(t: Trace, fn: () => T): T {
  const prev = current;
  current = t;
  try {
    return fn();
  } finally {
    current = prev;
  }
}
