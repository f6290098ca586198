/** Reading an ONNX file's metadata_props (what ganc export records about the generator). */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { GancError } from '../errors.ts';

export function readMetadata(file: string): Record<string, string> {
  const m = onnxProto.onnx.ModelProto.decode(readFileSync(file));
  return Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}

/** What a generator exported by ganc says about itself. */
export interface GeneratorInfo {
  zSize: number;
  zDist: string;
  channels: number;
  size: number;
}

/** An exported generator's metadata (ganc export), or a clear error for any other ONNX file. */
export function generatorInfo(file: string): GeneratorInfo & { model?: string; step: number | null } {
  const meta = readMetadata(file);
  const zSize = Number(meta['ganc.z_size']);
  if (!zSize) throw new GancError('not a ganc generator (no ganc.z_size metadata); pass a run folder or an exported generator.onnx', { file });
  return {
    zSize, zDist: meta['ganc.z_dist'] ?? 'uniform', channels: Number(meta['ganc.image_channels'] ?? 3), size: Number(meta['ganc.image_size']),
    model: meta['ganc.model'], step: meta['ganc.step'] !== undefined ? Number(meta['ganc.step']) : null,
  };
}
