#!/usr/bin/python3
"""ab_bench.py — interleaved rounds of `zeroskip bench` for several models on
the sparse path (one row each: batch B, T threads, 1 network, 2 s): the models
alternate within a round, the order is reversed every other round; medians of
wall words/s and of CPU us/word. docs/BENCHMARKS.md "Codesigned networks".

    /usr/bin/python3 scripts/ab_bench.py build/zeroskip ROUNDS BATCH THREADS MODEL... (AB_OUT=FILE.json)"""
import json, subprocess, sys, statistics, os
zs, rounds, batch, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
models = sys.argv[5:]
res = {m: [] for m in models}
loads = []
for r in range(rounds):
    order = models if r % 2 == 0 else models[::-1]
    for m in order:
        out = subprocess.run([zs, "bench", "--model", m, "--modes", "sparse", "--batch", batch, "--threads", threads,
                              "--networks", "1", "--rounds", "1", "--seconds", "2", "--warmup", "0.3", "--json"],
                             capture_output=True, text=True, check=True).stdout
        d = json.loads(out)
        row = d["rows"][0]
        res[m].append((row["words_per_s"], row["cpu_us_per_word"]))
        loads.append(d["loadavg_start"])
summary = {}
for m in models:
    w = [a for a, b in res[m]]; c = [b for a, b in res[m]]
    summary[m] = {"words_per_s_median": statistics.median(w), "cpu_us_per_word_median": statistics.median(c),
                  "cpu_us_per_word_min": min(c), "words_per_s_per_cpu_core": 1e6 / statistics.median(c),
                  "rounds": res[m]}
    print(f"{os.path.basename(m):40s} wall words/s {statistics.median(w):8.0f}  cpu us/word median {statistics.median(c):7.1f} "
          f"min {min(c):7.1f}  => {1e6/statistics.median(c):7.0f} words/s per CPU-second")
print("load average at the rounds' starts:", min(loads), "..", max(loads))
json.dump({"batch": batch, "threads": threads, "summary": summary, "loadavg": loads}, open(os.environ.get("AB_OUT", "/dev/null"), "w"), indent=1)
