/**
 * Frees the memory of a typed array that nothing else will read, now rather than at V8's next full collection.
 *
 * onnxruntime-node copies every output of a run into a new ArrayBuffer, so each step leaves the previous copy of the
 * parameters and Adam moments behind. V8 frees ArrayBuffers only when it collects, and it collects late while the main
 * thread is blocked inside ORT's run: a run's old state was still held at the next run's peak (32 px width 64: ganc's
 * ArrayBuffers 248 MB for 106 MB of state). `ArrayBuffer.prototype.transfer(0)` detaches a buffer and frees its
 * memory at once; Node 20's V8 has it behind a flag, in contexts made after the flag is set.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Transfer = (this: ArrayBuffer, length: number) => ArrayBuffer;
let transfer: Transfer | null | undefined;

function transferFn(): Transfer | null {
  if (transfer === undefined) {
    const own = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer;
    if (own) transfer = own;
    else {
      v8.setFlagsFromString('--harmony-rab-gsab-transfer');
      transfer = (vm.runInNewContext('ArrayBuffer.prototype.transfer') as Transfer | undefined) ?? null;
    }
  }
  return transfer;
}

/**
 * Free `data`'s buffer if `data` spans all of it (a view into a larger buffer, e.g. the initial values or a checkpoint
 * file read whole, is left alone). The array reads as empty afterwards: only for data no one will read again.
 */
export function release(data: unknown): void {
  if (!ArrayBuffer.isView(data)) return;
  const buf = data.buffer;
  if (!(buf instanceof ArrayBuffer) || data.byteOffset !== 0 || data.byteLength !== buf.byteLength || buf.byteLength === 0) return;
  const fn = transferFn();
  if (!fn) return;
  try {
    fn.call(buf, 0);
  } catch {
    // A buffer that cannot be detached (e.g. one Node shares): it waits for V8's collection, as before.
  }
}
