/** Writing a study's report files: report.json (everything), report.txt (the table), curves.png and report.html. */
import { writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { vegaLitePng } from '../charts/vega_png.ts';
import { writeJson } from '../run_folder.ts';
import { curvesSpec } from './curves.ts';
import type { StudyJson } from './plan.ts';
import { type Floor, type StudyReport, buildReport, formatReport } from './report.ts';
import { renderStudyHtml } from './report_html.ts';

function writeAtomic(file: string, data: string | Uint8Array): void {
  writeFileSync(file + '.tmp', data);
  renameSync(file + '.tmp', file);
}

export async function writeStudyReport(s: StudyJson, dir: string, floor?: Floor): Promise<{ report: StudyReport; text: string; files: string[] }> {
  const report = buildReport(s, dir, floor);
  const text = formatReport(report);
  const files = [path.join(dir, 'report.json'), path.join(dir, 'report.txt')];
  writeJson(files[0], report);
  writeAtomic(files[1], text + '\n');
  const hasCurves = report.models.some((m) => m.curve.length);
  if (hasCurves) {
    files.push(path.join(dir, 'curves.png'));
    writeAtomic(files.at(-1)!, await vegaLitePng(curvesSpec(report)));
  }
  files.push(path.join(dir, 'report.html'));
  writeAtomic(files.at(-1)!, renderStudyHtml(report, dir, hasCurves ? 'curves.png' : undefined));
  return { report, text, files };
}
