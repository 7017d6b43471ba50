// usage: node probs.mjs MODEL.gguf id,id,... OUT.json  -> next-token probabilities at each position
import {getLlama} from "node-llama-cpp";
import fs from "fs";
const [model, idsArg, out] = process.argv.slice(2);
const ids = idsArg.split(",").map(Number);
const llama = await getLlama({gpu: false, logLevel: "warn"});
const m = await llama.loadModel({modelPath: model});
const ctx = await m.createContext({contextSize: 256, batchSize: 256});
const seq = ctx.getSequence();
const opts = {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}};
const res = await seq.controlledEvaluate(ids.map(t => [t, {generateNext: opts}]));
const rows = res.map(r => Array.from(r.next.probabilities.entries()));
fs.writeFileSync(out, JSON.stringify(rows));
console.log("positions", rows.length, "vocab entries", rows[0].length);
