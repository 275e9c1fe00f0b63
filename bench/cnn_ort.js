// Peer of bench/bench_cnn.sh: ONNX Runtime (onnxruntime-node, CPU, default
// session options = its default thread count) on pre-decoded float32 NCHW
// images.
//   NODE_PATH=<node_modules> node bench/cnn_ort.js MODEL BLOB N BATCHES
// BLOB holds N images of 3x224x224 float32; MODEL must accept a symbolic
// batch dimension when a batch > 1 is asked (bench_cnn.sh makes such a
// copy).  BATCHES: comma-separated batch sizes.  For each batch size, three
// warm-up batches, then all N images in batches; prints one JSON line per
// batch size: {"batch", "images", "seconds", "cpu_seconds"}.
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, blobPath, nArg, batchesArg] = process.argv.slice(2);
  const n = Number(nArg);
  const per = 3 * 224 * 224;
  const buf = fs.readFileSync(blobPath);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * per * 4));
  const s = await ort.InferenceSession.create(model);
  const inName = s.inputNames[0];
  for (const b of batchesArg.split(',').map(Number)) {
    const run = async (start) => {
      const m = Math.min(b, n - start);
      const t = new ort.Tensor('float32', all.subarray(start * per, (start + m) * per), [m, 3, 224, 224]);
      const feeds = {};
      feeds[inName] = t;
      return s.run(feeds);
    };
    for (let i = 0; i < 3; i++) await run(0); // warm-up
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += b) await run(i);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({batch: b, images: n, seconds: sec, cpu_seconds: (c.user + c.system) / 1e6}));
  }
})().catch(e => { console.error(String(e)); process.exit(1); });
