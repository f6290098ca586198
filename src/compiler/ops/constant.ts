/** Literal tensors. Lowered to ONNX Constant nodes; the folding pass creates more of them. */
import type { ConstData } from '../ir.ts';
import { defineOp } from './registry.ts';

defineOp('Constant', {
  infer: (_x, a) => {
    const v = a.value as ConstData;
    return [{ shape: v.shape, dtype: v.dtype }];
  },
  lower: (n, cx) => cx.node('Constant', [], [cx.name(n.outputs[0])], { value: n.attrs.value as ConstData }),
  fold: (_x, a) => a.value as ConstData,
  noGrad: true,
});
