// usage: node cmp.mjs herd_logits.npy llamacpp_probs.json -> KL(herd||llama.cpp), top-1 agreement, max |dp|
import fs from "fs";
const [npy, js] = process.argv.slice(2);
const buf = fs.readFileSync(npy);
const hlen = buf.readUInt16LE(8), off = 10 + hlen;
const f = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length));
const rows = JSON.parse(fs.readFileSync(js));
const n = rows.length, V = f.length / n;
let kl = 0, agree = 0, maxd = 0;
for (let t = 0; t < n; t++) {
  const l = f.subarray(t * V, (t + 1) * V); let m = -Infinity, im = 0;
  for (let i = 0; i < V; i++) if (l[i] > m) { m = l[i]; im = i; }
  let z = 0; for (let i = 0; i < V; i++) z += Math.exp(l[i] - m);
  const q = new Float64Array(V); for (const [tok, p] of rows[t]) q[tok] = p;
  let iq = 0; for (let i = 0; i < V; i++) if (q[i] > q[iq]) iq = i;
  agree += im === iq;
  for (let i = 0; i < V; i++) { const p = Math.exp(l[i] - m) / z; maxd = Math.max(maxd, Math.abs(p - q[i])); if (p > 0) kl += p * (Math.log(p) - Math.log(Math.max(q[i], 1e-30))) / n; }
}
console.log(`positions ${n}  KL(herd||llama.cpp) ${kl.toExponential(3)}  top-1 agreement ${agree}/${n}  max |p_herd - p_llama.cpp| ${maxd.toExponential(3)}`);
