/** Generated images (float NCHW in [-1, 1]) onto canvases, and grids as PNG downloads. */

/** [-1, 1] → 0..255, as ganc's PNG grids (NaN shows black). */
const toByte = (v) => (!(v > -1) ? 0 : v >= 1 ? 255 : Math.round((v + 1) * 127.5));

/** Image k of a batch as ImageData. */
export function imageData(images, k, channels, size) {
  const plane = size * size;
  const base = k * channels * plane;
  const img = new ImageData(size, size);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) img.data[p * 4 + c] = toByte(images[base + (channels === 3 ? c * plane : 0) + p]);
    img.data[p * 4 + 3] = 255;
  }
  return img;
}

export function drawImage(canvas, images, k, channels, size) {
  canvas.width = size;
  canvas.height = size;
  canvas.getContext('2d').putImageData(imageData(images, k, channels, size), 0, 0);
}

/** n images as one grid (cols per row, 2 px grey padding, as ganc's sample grids). */
export function gridCanvas(images, n, channels, size, cols = Math.ceil(Math.sqrt(n)), canvas = document.createElement('canvas')) {
  const pad = 2;
  const rows = Math.ceil(n / cols);
  canvas.width = cols * size + (cols + 1) * pad;
  canvas.height = rows * size + (rows + 1) * pad;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'rgb(128,128,128)';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let k = 0; k < n; k++) ctx.putImageData(imageData(images, k, channels, size), pad + (k % cols) * (size + pad), pad + Math.floor(k / cols) * (size + pad));
  return canvas;
}

/** Save a canvas as a PNG file. */
export function downloadPng(canvas, name) {
  canvas.toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }, 'image/png');
}
