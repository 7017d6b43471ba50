// usage: node cmp_logits.mjs herd.npy llamacpp.npy -> relative RMS of the logits' difference
// (over the llama.cpp logits' standard deviation, per position, worst and mean), top-1 agreement
// and the mean KL divergence KL(second || first) of the next-token distributions
import fs from "fs";
function npy(p) {
  const b = fs.readFileSync(p), hl = b.readUInt16LE(8), h = b.toString("latin1", 10, 10 + hl);
  const shape = h.match(/shape': \((\d+), (\d+)/).slice(1).map(Number);
  return {n: shape[0], v: shape[1], x: new Float32Array(b.buffer.slice(b.byteOffset + 10 + hl, b.byteOffset + b.length))};
}
const [a, b] = process.argv.slice(2).map(npy);
if (a.n !== b.n || a.v !== b.v) { console.log(`shapes differ: ${a.n}x${a.v} vs ${b.n}x${b.v}`); process.exit(1); }
let worst = 0, mean = 0, agree = 0, kl = 0;
const lse = z => { let m = -Infinity; for (const v of z) m = Math.max(m, v); let s = 0; for (const v of z) s += Math.exp(v - m); return m + Math.log(s); };
for (let t = 0; t < a.n; t++) {
  const x = a.x.subarray(t * a.v, (t + 1) * a.v), y = b.x.subarray(t * b.v, (t + 1) * b.v);
  let my = 0; for (const v of y) my += v / y.length;
  let sy = 0, d = 0, ix = 0, iy = 0;
  for (let i = 0; i < y.length; i++) { sy += (y[i] - my) ** 2; d += (x[i] - y[i]) ** 2; if (x[i] > x[ix]) ix = i; if (y[i] > y[iy]) iy = i; }
  const lx = lse(x), ly = lse(y);
  for (let i = 0; i < y.length; i++) { const py = Math.exp(y[i] - ly); if (py > 0) kl += py * ((y[i] - ly) - (x[i] - lx)) / a.n; }
  const r = Math.sqrt(d / sy); worst = Math.max(worst, r); mean += r / a.n; agree += ix === iy;
}
console.log(`positions ${a.n}  relative RMS (of the spread) mean ${(100 * mean).toFixed(2)}% worst ${(100 * worst).toFixed(2)}%  top-1 ${agree}/${a.n}  KL ${kl.toExponential(3)}`);
