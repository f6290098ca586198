/** The clean-up pipeline run on every graph before emission. */
import type { Graph } from '../ir.ts';
import { removeDeadNodes } from './dce.ts';
import { eliminateCommonSubexpressions } from './cse.ts';
import { foldConstants } from './fold.ts';
import { foldAffineIntoConv } from './fold_affine.ts';

export { removeDeadNodes, eliminateCommonSubexpressions, foldConstants, foldAffineIntoConv };

export function optimizeGraph(g: Graph): Graph {
  let cur = removeDeadNodes(g);
  for (let i = 0; i < 3; i++) {
    const before = cur.nodes.length;
    cur = removeDeadNodes(eliminateCommonSubexpressions(foldConstants(cur)));
    if (cur.nodes.length === before) break;
  }
  return cur;
}
