/**
 * Seed step 5: minibatch discrimination at D's third layer, fed to the fourth conv. Memory-hungry, so the images
 * are smaller: 32×32 (the base's four stages, G starts at 2×2). The third conv's map h2 is [B, 4df, 4, 4], so
 * A = 4df·4·4 = 4096 and T is [4096, 100·5]; o(x) [B, 100] is broadcast over the 4×4 map as 100 extra channels and
 * concatenated to h2: the fourth conv sees 4df + 100 channels.
 */
import { type Tensor, variant } from '../src/dsl/index.ts';
import { type MinibatchOptions, minibatchDiscrimination } from '../src/dsl/tricks.ts';
import { type DcganSize, dcgan, discriminator } from './dcgan.ts';

export const SIZE_32: DcganSize = { size: 32, gf: 64, df: 64, channels: 3 };

export function dcganMbd(size: DcganSize = SIZE_32, mbd: MinibatchOptions = { kernels: 100, dims: 5 }, name = 'dcgan-mbd') {
  const between = (h: Tensor, layer: number) => (layer === 3 ? minibatchDiscrimination(h, mbd) : h);
  return variant(dcgan(size, name), { discriminator: (x) => discriminator(x, size, { between }) });
}

export default dcganMbd();
