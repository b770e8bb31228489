#!/usr/bin/env node
// ort_bench.js — an ONNX model run by ONNX Runtime (onnxruntime-node 1.30.0,
// CPU execution provider, graph optimizations "all") as a long-lived peer of
// `zeroskip bench`, driven by a line protocol on stdin/stdout so that the
// benchmark can alternate engines round by round without restarting them.
//
//   node bench/ort_bench.js --onnx M.onnx [--input X.f32] [--spin 1|0]
//        [--agree-with REF.onnx] [--check-in X.f32 --check-ref Y.f32]
//
// On start it prints one line "ready {json}" (engine, version, input shape,
// and, when asked, "agree": top-1 agreement of this model with REF.onnx on
// every --input sample, both run by ONNX Runtime — how the int8 model is
// checked against fp32 — and "verify": max |diff| and argmax agreement
// against reference log-probabilities) or "error MESSAGE" and exits 2.
// Then, per stdin line:
//   run SECONDS BATCH THREADS -> {"words": W, "wall": S, "cpu": S, "calls": C}
//       runs batches of BATCH inputs (cycled from --input, or standard
//       normal) for at least SECONDS of wall time with a session of
//       intraOpNumThreads = THREADS (made and warmed up, max(0.2 s, 3 runs),
//       on its first use, untimed); cpu = process user+system CPU seconds
//       during the run (every ONNX Runtime thread), wall = elapsed seconds.
//   quit (or end of input) -> exits 0.
// Sessions: interOpNumThreads = 1, sequential, CPU memory arena on; the
// intra-op pool spins between runs as ONNX Runtime does by default (--spin 0
// sets session.intra_op.allow_spinning = 0, kinder to a shared machine).
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function fail(msg) {
    process.stdout.write(`error ${msg}\n`);
    process.stderr.write(`ort_bench: ${msg}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const a = { spin: 1 };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = argv[i + 1];
        if (k === '--help' || k === '-h') {
            process.stdout.write('usage: node ort_bench.js --onnx M.onnx [--input X.f32] [--spin 1|0] ' +
                '[--agree-with REF.onnx] [--check-in X.f32 --check-ref Y.f32]\n' +
                'then on stdin: "run SECONDS BATCH THREADS" lines, "quit"\n');
            process.exit(0);
        }
        if (v === undefined) fail(`option ${k} needs a value`);
        i++;
        if (k === '--onnx') a.onnx = v;
        else if (k === '--input') a.input = v;
        else if (k === '--spin') a.spin = v === '0' ? 0 : 1;
        else if (k === '--agree-with') a.agreeWith = v;
        else if (k === '--check-in') a.checkIn = v;
        else if (k === '--check-ref') a.checkRef = v;
        else fail(`unknown option ${k}`);
    }
    if (!a.onnx) fail('--onnx is required');
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
const cpuNow = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };

function argmaxRows(out, n) {
    const k = out.length / n;
    const r = new Int32Array(n);
    for (let i = 0; i < n; i++) {
        let b = 0;
        for (let j = 1; j < k; j++) if (out[i * k + j] > out[i * k + b]) b = j;
        r[i] = b;
    }
    return r;
}

async function main() {
    const a = parseArgs(process.argv);
    let ort;
    try {
        ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
    } catch (e) {
        fail(`onnxruntime-node not loadable from ${__dirname}/node_modules (run sh bench/setup.sh): ` +
            String(e.message).split('\n')[0]);
    }
    const opts = (t) => ({
        executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: t,
        interOpNumThreads: 1, executionMode: 'sequential', enableCpuMemArena: true,
        extra: { session: { intra_op: { allow_spinning: a.spin ? '1' : '0' } } },
    });
    const sessions = new Map(); // threads -> session
    const session = async (t) => {
        if (!sessions.has(t)) sessions.set(t, await ort.InferenceSession.create(a.onnx, opts(t)));
        return sessions.get(t);
    };
    const s1 = await session(1);
    // Input shape: from the model's metadata when the binding exposes it,
    // else the zeroskip default (1, 32, 32).
    let shape = [1, 32, 32];
    try {
        const meta = s1.inputMetadata && s1.inputMetadata[0];
        if (meta && Array.isArray(meta.shape) && meta.shape.length === 4 &&
            meta.shape.slice(1).every((d) => Number.isInteger(d) && d > 0)) shape = meta.shape.slice(1);
    } catch (e) { /* keep the default */ }
    const per = shape[0] * shape[1] * shape[2];
    const xs = a.input ? readF32(a.input) : randomInputs(256 * per);
    if (xs.length % per || !xs.length) fail(`${a.input}: not a whole number of (${shape}) samples`);
    const nIn = xs.length / per;
    const info = {
        engine: 'onnxruntime', version: ort.env.versions.node || '', onnx: a.onnx,
        input_shape: shape, inputs: nIn, allow_spinning: a.spin,
    };
    if (a.agreeWith) {
        const ref = await ort.InferenceSession.create(a.agreeWith, opts(1));
        const x = new ort.Tensor('float32', xs, [nIn, ...shape]);
        const p = argmaxRows((await s1.run({ x })).logprob.data, nIn);
        const q = argmaxRows((await ref.run({ x })).logprob.data, nIn);
        let agree = 0;
        for (let i = 0; i < nIn; i++) if (p[i] === q[i]) agree++;
        info.agree = { n: nIn, top1: agree / nIn, with: a.agreeWith };
    }
    if (a.checkIn && a.checkRef) {
        const xin = readF32(a.checkIn);
        const ref = readF32(a.checkRef);
        const n = xin.length / per;
        const out = (await s1.run({ x: new ort.Tensor('float32', xin, [n, ...shape]) })).logprob.data;
        const k = out.length / n;
        const po = argmaxRows(out, n), pr = argmaxRows(ref, n);
        let maxd = 0, agree = 0;
        for (let i = 0; i < n * k; i++) maxd = Math.max(maxd, Math.abs(out[i] - ref[i]));
        for (let i = 0; i < n; i++) if (po[i] === pr[i]) agree++;
        info.verify = { n, max_abs_diff: maxd, argmax_agree: agree / n };
    }
    const feedCache = new Map(); // batch -> tensors
    const feeds = (b) => {
        if (!feedCache.has(b)) {
            let src = xs;
            while (src.length < b * per) { // repeat inputs to fill one batch
                const r = new Float32Array(src.length * 2);
                r.set(src); r.set(src, src.length);
                src = r;
            }
            const nb = Math.floor(src.length / (b * per));
            const f = [];
            for (let i = 0; i < nb; i++) f.push(new ort.Tensor('float32', src.slice(i * b * per, (i + 1) * b * per), [b, ...shape]));
            feedCache.set(b, f);
        }
        return feedCache.get(b);
    };
    const warm = new Set();
    process.stdout.write(`ready ${JSON.stringify(info)}\n`);

    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    for await (const line of rl) {
        const w = line.trim().split(/\s+/);
        if (w[0] === 'quit') break;
        if (w[0] !== 'run' || w.length !== 4) { process.stdout.write(`error unknown command '${line.trim()}'\n`); continue; }
        const secs = Number(w[1]), b = Number(w[2]), t = Number(w[3]);
        if (!(secs > 0) || !Number.isInteger(b) || b < 1 || !Number.isInteger(t) || t < 1) {
            process.stdout.write(`error bad run arguments '${line.trim()}'\n`);
            continue;
        }
        try {
            const s = await session(t);
            const f = feeds(b);
            let calls = 0;
            if (!warm.has(`${t}/${b}`)) {
                const t0 = now();
                while (calls < 3 || now() - t0 < 0.2) await s.run({ x: f[calls++ % f.length] });
                warm.add(`${t}/${b}`);
            }
            calls = 0;
            const c0 = cpuNow(), t1 = now();
            let dt = 0;
            for (;;) {
                await s.run({ x: f[calls % f.length] });
                calls++;
                dt = now() - t1;
                if (dt >= secs && calls >= 2) break;
            }
            const cpu = cpuNow() - c0;
            process.stdout.write(JSON.stringify({ words: calls * b, wall: dt, cpu, calls }) + '\n');
        } catch (e) {
            process.stdout.write(`error ${String(e && e.message ? e.message : e).split('\n')[0]}\n`);
        }
    }
    process.exit(0);
}

main().catch((e) => {
    if (e && e.stack) process.stderr.write(`${e.stack}\n`);
    fail(String(e && e.message ? e.message : e).split('\n')[0]);
});
