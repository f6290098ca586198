/**
 * The real-vs-real floor of a study (FACTS.md: report it beside the models): the eval's real images against as many
 * other real images, scored as the runs are. Computed once per study folder (DIR/floor.json): it costs an SWD.
 */
import path from 'node:path';
import { ensureBuiltinData } from '../data/logos.ts';
import { loadImageFolder } from '../data/images.ts';
import { EVAL_SEED, scoreImages } from '../eval_along.ts';
import { datasetImages, seededSubset } from '../evaluate.ts';
import { msssimDiversity } from '../metrics/msssim.ts';
import { readJson, writeJson } from '../run_folder.ts';
import type { StudyJson } from './plan.ts';
import type { Floor } from './report.ts';

/** The floor of DIR's study at the baseline's image size, from floor.json or computed (and saved) now. */
export async function studyFloor(s: StudyJson, dir: string): Promise<Floor | undefined> {
  const file = path.join(dir, 'floor.json');
  const saved = readJson<Floor & { size: number; evalN: number }>(file);
  const size = s.models[s.baseline].size;
  if (saved && saved.size === size && saved.evalN === s.eval.n) return saved;
  const dataDir = s.data ?? (await ensureBuiltinData(size, false));
  const data = await loadImageFolder(dataDir, { size, labels: false, minCount: 2 });
  const all = Uint32Array.from({ length: data.count }, (_, i) => i);
  // The runs' real draw (evalRealImages: the same subset), and a disjoint one from the rest.
  const first = seededSubset(all, s.eval.n, EVAL_SEED);
  const taken = new Set(first);
  const rest = all.filter((i) => !taken.has(i));
  if (rest.length < 2) return undefined;
  const second = seededSubset(rest, first.length, 'floor');
  const n = Math.min(first.length, second.length);
  const a = datasetImages(data, first.subarray(0, n)), b = datasetImages(data, second.subarray(0, n));
  const { swd, swdAvg } = scoreImages(b, a);
  const floor: Floor = { n, swd, swdAvg, msssimReal: msssimDiversity(a, { pairs: 500, seed: EVAL_SEED }).mean };
  writeJson(file, { ...floor, size, evalN: s.eval.n });
  return floor;
}
