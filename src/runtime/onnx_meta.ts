/** Reading an ONNX file's metadata_props (what ganc export records about the generator). */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

export function readMetadata(file: string): Record<string, string> {
  const m = onnxProto.onnx.ModelProto.decode(readFileSync(file));
  return Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
