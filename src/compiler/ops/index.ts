/** Importing this registers every op. */
import './constant.ts';
import './elementwise.ts';
import './reduce.ts';
import './shape.ts';
import './matmul.ts';
import './conv.ts';
import './batch_norm.ts';
import './gather.ts';
import './loop.ts';
import './scan.ts';

export * from './elementwise.ts';
export * from './reduce.ts';
export * from './shape.ts';
export * from './matmul.ts';
export * from './conv.ts';
export * from './batch_norm.ts';
export * from './gather.ts';
export * from './loop.ts';
export * from './scan.ts';
export { allOps, opDef } from './registry.ts';
