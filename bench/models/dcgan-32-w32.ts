// The benchmark's end-to-end model: the seed's DCGAN at 32×32 with gf = df = 32 (batch 64, 2 G updates per D
// update), the size studies run many of. bench/bench.ts trains it with `ganc run` and bench/dcgan_torch.py --data.
import { dcgan } from '../../models/dcgan.ts';

export default dcgan({ size: 32, gf: 32, df: 32, channels: 3 }, 'dcgan-32-w32');
