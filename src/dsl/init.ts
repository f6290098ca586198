/** Parameter initializers. Each parameter is seeded from (model seed, parameter name), so adding a layer does not
 * change the initial values of the others. */
import { Rng } from '../random.ts';

export type Init =
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'truncatedNormal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number };

export const normal = (std = 0.02, mean = 0): Init => ({ kind: 'normal', std, mean });
export const truncatedNormal = (std = 0.02, mean = 0): Init => ({ kind: 'truncatedNormal', std, mean });
export const uniformInit = (low: number, high: number): Init => ({ kind: 'uniform', low, high });
export const zeros = (): Init => ({ kind: 'zeros' });
export const ones = (): Init => ({ kind: 'ones' });
export const constant = (value: number): Init => ({ kind: 'constant', value });

export function initialValues(init: Init, size: number, seed: number, name: string): Float32Array {
  const out = new Float32Array(size);
  const rng = new Rng(`${seed}/${name}`);
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'constant':
      return out.fill(init.value);
    case 'uniform': {
      const u = new Float64Array(size);
      rng.fillUniform(u);
      for (let i = 0; i < size; i++) out[i] = init.low + (init.high - init.low) * u[i];
      return out;
    }
    case 'normal': {
      const x = new Float64Array(size);
      rng.fillNormal(x);
      for (let i = 0; i < size; i++) out[i] = (init.mean ?? 0) + init.std * x[i];
      return out;
    }
    case 'truncatedNormal': {
      // As TensorFlow: redraw values beyond two standard deviations (about 5% of them).
      const draws = new Float64Array(size);
      rng.fillNormal(draws);
      for (let i = 0; i < size; i++) {
        let x = draws[i];
        while (Math.abs(x) > 2) x = rng.normal();
        out[i] = (init.mean ?? 0) + init.std * x;
      }
      return out;
    }
  }
}

export function describeInit(init: Init): string {
  switch (init.kind) {
    case 'normal': return `normal(${init.mean ?? 0}, ${init.std})`;
    case 'truncatedNormal': return `truncatedNormal(${init.mean ?? 0}, ${init.std})`;
    case 'uniform': return `uniform(${init.low}, ${init.high})`;
    case 'constant': return `constant(${init.value})`;
    default: return init.kind;
  }
}
