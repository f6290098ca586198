/** What a model file imports. */
export { gan, variant, type GanDef, type GanOptions, type LossContext, type DOutput, type AdamOptions } from './gan.ts';
export * from './tensor.ts';
export * from './layers.ts';
export * from './losses.ts';
export { normal, truncatedNormal, uniformInit, zeros, ones, constant, type Init } from './init.ts';
export * from './tricks.ts';
export * from './penalties.ts';
export { spectralNorm, spectralNormalize } from './spectral_norm.ts';
