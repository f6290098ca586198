/** Writing a study's report files: report.json (everything), report.txt (the table), report.html and curves.png. */
import { writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { writeJson } from '../run_folder.ts';
import type { StudyJson } from './plan.ts';
import { type Floor, type StudyReport, buildReport, formatReport } from './report.ts';

function writeText(file: string, text: string): void {
  writeFileSync(file + '.tmp', text);
  renameSync(file + '.tmp', file);
}

export async function writeStudyReport(s: StudyJson, dir: string, floor?: Floor): Promise<{ report: StudyReport; text: string; files: string[] }> {
  const report = buildReport(s, dir, floor);
  const text = formatReport(report);
  const files = [path.join(dir, 'report.json'), path.join(dir, 'report.txt')];
  writeJson(files[0], report);
  writeText(files[1], text + '\n');
  return { report, text, files };
}
