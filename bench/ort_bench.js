#!/usr/bin/env node
// ort_bench.js — words/s of an ONNX model run by ONNX Runtime (onnxruntime-node
// 1.30.0, CPU execution provider, graph optimizations "all").
//
//   node bench/ort_bench.js --onnx M.onnx [--batch 1,16,64,256] [--threads 1,2]
//        [--seconds 2] [--reps 5] [--spin 1|0] [--input X.f32]
//        [--check-in X.f32 --check-ref Y.f32]
//
// The model comes from bench/export_onnx.py (input "x" (N, C, H, W), output
// "logprob" (N, K), dynamic N). One session per thread count:
// intraOpNumThreads = T, interOpNumThreads = 1, sequential execution, CPU
// memory arena on; the intra-op pool spins between runs as ONNX Runtime
// does by default (--spin 0 sets session.intra_op.allow_spinning = 0, kinder
// to a shared machine). For each (threads, batch): warm-up (max(0.2 s, 3 runs)),
// then `reps` repetitions of about seconds/reps each; median/min/max words/s.
// Prints one JSON document on stdout:
//   {"engine": "onnxruntime", "version": ..., "rows": [{"threads", "batch",
//    "words_per_s", "words_per_s_min", "words_per_s_max", "us_per_word",
//    "reps", "calls"}], "verify": {...}}
// Inputs: --input (raw float32 (n, C, H, W), cycled) or standard normal.
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
    process.stderr.write(`ort_bench: ${msg}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const a = { batch: [1, 16, 64, 256], threads: [1, 2], seconds: 2, reps: 5, spin: 1 };
    const list = (s) => {
        const v = s.split(',').filter((t) => t).map(Number);
        if (!v.length || v.some((n) => !Number.isInteger(n) || n < 1)) die(`bad list '${s}'`);
        return v;
    };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = argv[i + 1];
        if (k === '--help' || k === '-h') {
            process.stdout.write('usage: node ort_bench.js --onnx M.onnx [--batch 1,16] [--threads 1,2] ' +
                '[--seconds S] [--reps R] [--spin 1|0] [--input X.f32] [--check-in X.f32 --check-ref Y.f32]\n');
            process.exit(0);
        }
        if (v === undefined) die(`option ${k} needs a value`);
        i++;
        if (k === '--onnx') a.onnx = v;
        else if (k === '--batch') a.batch = list(v);
        else if (k === '--threads') a.threads = list(v);
        else if (k === '--seconds') a.seconds = Number(v);
        else if (k === '--reps') a.reps = Number(v);
        else if (k === '--input') a.input = v;
        else if (k === '--spin') a.spin = v === '0' ? 0 : 1;
        else if (k === '--check-in') a.checkIn = v;
        else if (k === '--check-ref') a.checkRef = v;
        else die(`unknown option ${k}`);
    }
    if (!a.onnx) die('--onnx is required');
    if (!(a.seconds > 0) || !Number.isInteger(a.reps) || a.reps < 1) die('bad --seconds or --reps');
    return a;
}

function readF32(file) {
    const b = fs.readFileSync(file);
    const f = new Float32Array(b.length >> 2);
    for (let i = 0; i < f.length; i++) f[i] = b.readFloatLE(i * 4);
    return f;
}

// Standard normal (Box-Muller) from a fixed-seed LCG: the same inputs every run.
function randomInputs(n) {
    const f = new Float32Array(n);
    let s = 0x2545f491;
    const u = () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return (s + 1) / 4294967297;
    };
    for (let i = 0; i < n; i += 2) {
        const r = Math.sqrt(-2 * Math.log(u()));
        const t = 2 * Math.PI * u();
        f[i] = r * Math.cos(t);
        if (i + 1 < n) f[i + 1] = r * Math.sin(t);
    }
    return f;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

async function timeConfig(ort, sess, feeds, batch, seconds, reps) {
    let calls = 0;
    const t0 = now();
    while (calls < 3 || now() - t0 < 0.2) {
        await sess.run({ x: feeds[calls % feeds.length] });
        calls++;
    }
    const rates = [];
    let total = 0;
    const slot = seconds / reps;
    for (let r = 0; r < reps; r++) {
        calls = 0;
        const t1 = now();
        let dt = 0;
        for (;;) {
            await sess.run({ x: feeds[calls % feeds.length] });
            calls++;
            dt = now() - t1;
            if (dt >= slot && calls >= 2) break;
        }
        rates.push((calls * batch) / dt);
        total += calls;
    }
    rates.sort((p, q) => p - q);
    const m = rates.length;
    const med = m % 2 ? rates[(m - 1) / 2] : 0.5 * (rates[m / 2 - 1] + rates[m / 2]);
    return {
        batch, words_per_s: med, words_per_s_min: rates[0], words_per_s_max: rates[m - 1],
        us_per_word: 1e6 / med, reps, calls: total,
    };
}

async function main() {
    const a = parseArgs(process.argv);
    let ort;
    try {
        ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
    } catch (e) {
        die(`onnxruntime-node not loadable from ${__dirname}/node_modules (run sh bench/setup.sh): ` +
            String(e.message).split('\n')[0]);
    }
    const opts = (t) => ({
        executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: t,
        interOpNumThreads: 1, executionMode: 'sequential', enableCpuMemArena: true,
        extra: { session: { intra_op: { allow_spinning: a.spin ? '1' : '0' } } },
    });
    let sess = await ort.InferenceSession.create(a.onnx, opts(1));
    // Input shape: from the model's metadata when the binding exposes it,
    // else the zeroskip default (1, 32, 32).
    let shape = [1, 32, 32];
    try {
        const meta = sess.inputMetadata && sess.inputMetadata[0];
        if (meta && Array.isArray(meta.shape) && meta.shape.length === 4 &&
            meta.shape.slice(1).every((d) => Number.isInteger(d) && d > 0)) shape = meta.shape.slice(1);
    } catch (e) { /* keep the default */ }
    const per = shape[0] * shape[1] * shape[2];
    const res = {
        engine: 'onnxruntime', version: ort.env.versions.node || '', onnx: a.onnx,
        input_shape: shape, allow_spinning: a.spin, rows: [],
    };

    if (a.checkIn && a.checkRef) {
        const xin = readF32(a.checkIn);
        const ref = readF32(a.checkRef);
        const n = xin.length / per;
        const out = (await sess.run({ x: new ort.Tensor('float32', xin, [n, ...shape]) })).logprob.data;
        const k = out.length / n;
        let maxd = 0, agree = 0;
        for (let i = 0; i < n; i++) {
            let bo = 0, br = 0;
            for (let j = 0; j < k; j++) {
                maxd = Math.max(maxd, Math.abs(out[i * k + j] - ref[i * k + j]));
                if (out[i * k + j] > out[i * k + bo]) bo = j;
                if (ref[i * k + j] > ref[i * k + br]) br = j;
            }
            if (bo === br) agree++;
        }
        res.verify = { n, max_abs_diff: maxd, argmax_agree: agree / n };
    }

    const maxb = Math.max(...a.batch);
    let xs = a.input ? readF32(a.input) : randomInputs(maxb * per);
    if (xs.length % per || !xs.length) die(`${a.input}: not a whole number of (${shape}) samples`);
    for (const t of a.threads) {
        if (t !== 1) sess = await ort.InferenceSession.create(a.onnx, opts(t));
        else if (!sess) sess = await ort.InferenceSession.create(a.onnx, opts(1));
        for (const b of a.batch) {
            let src = xs;
            while (src.length < b * per) { // repeat inputs to fill one batch
                const r = new Float32Array(src.length * 2);
                r.set(src); r.set(src, src.length);
                src = r;
            }
            const nb = Math.floor(src.length / (b * per));
            const feeds = [];
            for (let i = 0; i < nb; i++)
                feeds.push(new ort.Tensor('float32', src.slice(i * b * per, (i + 1) * b * per), [b, ...shape]));
            const row = await timeConfig(ort, sess, feeds, b, a.seconds, a.reps);
            row.threads = t;
            res.rows.push(row);
            process.stderr.write(`onnxruntime threads ${t} batch ${b}: ${row.words_per_s.toFixed(0)} words/s\n`);
        }
        sess = null;
    }
    process.stdout.write(JSON.stringify(res) + '\n');
}

// The stack for people, then one last line for `zeroskip bench` to quote.
main().catch((e) => {
    if (e && e.stack) process.stderr.write(`${e.stack}\n`);
    die(String(e && e.message ? e.message : e).split('\n')[0]);
});
