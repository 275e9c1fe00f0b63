// Runs an ONNX model with onnxruntime-node on raw float32 blobs (the
// reference of the CNN cross-checks, tests/py/test_cnn.py).
//   NODE_PATH=<node_modules> node ort_run.js MODEL OUT_DIR SHAPE BLOB...
// SHAPE is the input shape, e.g. 1,3,224,224; each BLOB holds that many
// float32 LE values for the model's first input.  For every blob and every
// model output writes OUT_DIR/<blob basename>.<output name>.f32 (the
// output name with '/' replaced by '_').  One thread, all optimisations.
const ort = require('onnxruntime-node');
const fs = require('fs');
const path = require('path');
(async () => {
  const [model, outDir, shapeArg, ...blobs] = process.argv.slice(2);
  const shape = shapeArg.split(',').map(Number);
  const s = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1,
                                                      graphOptimizationLevel: 'all'});
  for (const b of blobs) {
    const buf = fs.readFileSync(b);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const feeds = {};
    feeds[s.inputNames[0]] = new ort.Tensor('float32', data, shape);
    const r = await s.run(feeds);
    for (const name of s.outputNames) {
      const t = r[name];
      fs.writeFileSync(path.join(outDir, path.basename(b) + '.' + name.replace(/\//g, '_') + '.f32'),
                       Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  }
  console.log('onnxruntime-node ' + require('onnxruntime-node/package.json').version);
})().catch(e => { console.error(e); process.exit(1); });
