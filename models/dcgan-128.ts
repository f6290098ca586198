/**
 * Seed step 3: larger images, 128×128. One more stride-2 stage on each side, widths capped at 8·gf / 8·df:
 *   G: z → linear → 8gf @4×4 → 8gf @8 → 4gf @16 → 2gf @32 → gf @64 → RGB @128 (5 deconvs);
 *   D: RGB @128 → df @64 → 2df @32 → 4df @16 → 8df @8 → 8df @4 (5 convs) → linear → 1 logit.
 * I.e. the base with every resolution doubled plus an extra 8gf/8df stage at the 4×4 end (rather than 16gf/16df
 * there, which would add ~2×13M parameters for little). Everything else as the base (batch 64, Adam, 2 G updates).
 */
import { dcgan } from './dcgan.ts';

export default dcgan({ size: 128, gf: 64, df: 64, channels: 3, stages: 5 }, 'dcgan-128');
