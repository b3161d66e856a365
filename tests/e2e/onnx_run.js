// Runs a model of digitnet-export in ONNX Runtime for Node.js on an IDX test set and
// compares its probabilities with digitnet-score --probabilities; prints one JSON object.
// Usage: NODE_PATH=ORT_DIR/node_modules node onnx_run.js MODEL.onnx IMAGES LABELS DIGITNET.csv
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

// An IDX file (raw or .gz) of unsigned bytes: its dimensions and data.
function readIdx(path) {
  let bytes = fs.readFileSync(path);
  if (path.endsWith('.gz')) bytes = zlib.gunzipSync(bytes);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${path}: not an unsigned-byte IDX file`);
  const dims = [];
  for (let d = 0; d < bytes[3]; ++d) dims.push(bytes.readUInt32BE(4 + 4 * d));
  return { dims, data: bytes.subarray(4 + 4 * bytes[3]) };
}

// digitnet-score --probabilities: "index,label,p0,..." then one row per image.
function readProbabilities(path) {
  const rows = fs.readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const classes = rows[0].split(',').length - 2;
  const probs = new Float64Array(rows.length * classes);
  const labels = [];
  rows.forEach((row, i) => {
    const cells = row.split(',').map(Number);
    labels.push(cells[1]);
    for (let c = 0; c < classes; ++c) probs[i * classes + c] = cells[2 + c];
  });
  return { classes, labels, probs };
}

function argmax(values, offset, n) {
  let best = 0;
  for (let c = 1; c < n; ++c) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

// The network's input as the README states it: pixel / 255 in float32, row-major.
function pixelsTensor(images, first, count) {
  const features = images.dims[1] * images.dims[2];
  const x = new Float32Array(count * features);
  for (let k = 0; k < x.length; ++k) x[k] = images.data[first * features + k] / 255;
  return new ort.Tensor('float32', x, [count, features]);
}

async function main() {
  const [modelPath, imagesPath, labelsPath, digitnetPath] = process.argv.slice(2);
  const images = readIdx(imagesPath), labels = readIdx(labelsPath).data;
  const ours = readProbabilities(digitnetPath);
  const count = images.dims[0], classes = ours.classes;
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });

  const batch = 1000;  // several runs of one session: the batch axis is dynamic
  const onnx = new Float32Array(count * classes);
  const start = process.hrtime.bigint();
  for (let first = 0; first < count; first += batch) {
    const n = Math.min(batch, count - first);
    const out = await session.run({ pixels: pixelsTensor(images, first, n) });
    onnx.set(out.probabilities.data, first * classes);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const single = (await session.run({ pixels: pixelsTensor(images, 0, 1) })).probabilities;

  let maxDiff = 0, onnxCorrect = 0, oursCorrect = 0, disagreements = 0, labelMismatches = 0;
  for (let i = 0; i < count; ++i) {
    for (let c = 0; c < classes; ++c) maxDiff = Math.max(maxDiff, Math.abs(onnx[i * classes + c] - ours.probs[i * classes + c]));
    const a = argmax(onnx, i * classes, classes), b = argmax(ours.probs, i * classes, classes);
    onnxCorrect += a === labels[i];
    oursCorrect += b === labels[i];
    disagreements += a !== b;
    labelMismatches += ours.labels[i] !== labels[i];
  }
  let singleDiff = 0;
  for (let c = 0; c < classes; ++c) singleDiff = Math.max(singleDiff, Math.abs(single.data[c] - onnx[c]));
  console.log(JSON.stringify({
    images: count, digitnet_rows: ours.labels.length, classes, output_dims: single.dims,
    max_abs_diff: maxDiff, single_image_max_abs_diff: singleDiff,
    onnx_correct: onnxCorrect, digitnet_correct: oursCorrect, argmax_disagreements: disagreements,
    label_mismatches: labelMismatches, onnx_seconds: seconds, onnx_images_per_second: count / seconds,
  }));
}

main().catch((e) => { console.error(`onnx_run.js: ${e.message}`); process.exit(1); });
