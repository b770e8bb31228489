#!/usr/bin/env python3
"""continual_report.py — tables and plots of the runs of continual_runs.sh.

Reads DIR/*.csv (after_task,task,accuracy; named
PROTOCOL-TASKS-MODEL-siC-seedS.csv), groups seeds, and prints markdown
tables: average accuracy over all tasks after the last one and mean
forgetting (mean +- sample std over seeds). Plots (gnuplot PNG, to IMG):
the difference of each model to the dense MLP with the same SI,
paired by seed; task-1 accuracy as tasks accumulate and average accuracy over the tasks
seen so far, against the number of tasks, one PNG per protocol; the CPU
and wall time of the runs (their logs' last line).
Names: PROTOCOL split_taskhead = split with --head task; MODEL
dendrites_ctxgiven = dendrites with --context given.
usage: continual_report.py [DIR] [IMG]   (results/continual, docs/img)
"""
import csv, glob, os, re, statistics, subprocess, sys

def ms(v):
    m = statistics.mean(v)
    s = statistics.stdev(v) if len(v) > 1 else 0.0
    return m, s

HEADINGS = {"split": "split, shared 10-way head", "split_taskhead": "split, task-masked head (`--head task`)"}
NAMES = {"dendrites_ctxgiven": "dendrites, context given"}

def times(path):
    """(user, wall) seconds from a run's log, or None"""
    try:
        with open(path) as f:
            m = re.search(r"time:user=([0-9.]+)s,sys=[0-9.]+s,wall=([0-9.]+)s", f.read())
    except OSError:
        return None
    return (float(m.group(1)), float(m.group(2))) if m else None

def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "results/continual"
    img = sys.argv[2] if len(sys.argv) > 2 else "docs/img"
    runs, seeds, cpu = {}, {}, {}
    for p in sorted(glob.glob(os.path.join(d, "*.csv"))):
        m = re.match(r"(\w+)-(\d+)-(\w+)-si([0-9.]+)-seed(\d+)\.csv$", os.path.basename(p))
        if not m:
            continue
        proto, T, model, si, seed = m.group(1), int(m.group(2)), m.group(3), float(m.group(4)), int(m.group(5))
        acc = {}
        with open(p) as f:
            for r in csv.DictReader(f):
                acc[(int(r["after_task"]), int(r["task"]))] = float(r["accuracy"])
        T = max(a for a, _ in acc)
        runs.setdefault((proto, T, model, si), []).append(acc)
        tm = times(p[:-4] + ".log")
        if tm:
            cpu.setdefault((proto, T, model, si), []).append(tm)
        seeds.setdefault((proto, T, model, si), []).append(seed)
    order = {"dense": 0, "sparse": 1, "dendrites": 2}
    for proto, T in sorted({(k[0], k[1]) for k in runs}):
        keys = sorted([k for k in runs if k[0] == proto and k[1] == T], key=lambda k: (order.get(k[2], 9), k[3]))
        print(f"\n### {HEADINGS.get(proto, proto)}, {T} tasks\n")
        print("| model | SI | seeds | average accuracy after task %d | mean forgetting (points) | task 1 after task %d |" % (T, T))
        print("|---|---|---|---|---|---|")
        curves = []
        finals = {}
        for k in keys:
            avg, fg, t1 = [], [], []
            cur_t1 = [[] for _ in range(T)]
            cur_avg = [[] for _ in range(T)]
            for acc in runs[k]:
                avg.append(statistics.mean(acc[(T, j)] for j in range(1, T + 1)))
                if T > 1:
                    fg.append(statistics.mean(max(acc[(t, j)] for t in range(j, T)) - acc[(T, j)] for j in range(1, T)))
                t1.append(acc[(T, 1)])
                for t in range(1, T + 1):
                    cur_t1[t - 1].append(acc[(t, 1)])
                    cur_avg[t - 1].append(statistics.mean(acc[(t, j)] for j in range(1, t + 1)))
            a, sa = ms(avg)
            f, sf = ms(fg) if fg else (0, 0)
            b, sb = ms(t1)
            name = NAMES.get(k[2], k[2]) + (" + SI" if k[3] > 0 else "")
            pm = (lambda v, e: f"{v:.2f} ± {e:.2f}") if len(runs[k]) > 1 else (lambda v, e: f"{v:.2f}")
            print(f"| {NAMES.get(k[2], k[2])} | {'c = %g' % k[3] if k[3] > 0 else '-'} | {len(runs[k])} | {pm(a, sa)} | {pm(f, sf)} | {pm(b, sb)} |")
            curves.append((name, [ms(v) for v in cur_t1], [ms(v) for v in cur_avg]))
            finals[k] = dict(zip(seeds[k], avg))
        # each model against the dense MLP with the same SI, paired by seed
        gaps = []
        for k in keys:
            base = (k[0], k[1], "dense", k[3])
            common = sorted(set(finals[k]) & set(finals.get(base, {})))
            if k[2] != "dense" and common:
                g = ms([finals[k][s_] - finals[base][s_] for s_ in common])
                gs = f"{g[0]:+.2f} ± {g[1]:.2f}" if len(common) > 1 else f"{g[0]:+.2f}"
                gaps.append(f"{NAMES.get(k[2], k[2])}{' + SI' if k[3] > 0 else ''} − dense{' + SI' if k[3] > 0 else ''}: "
                            f"{gs} (seed{'s' if len(common) > 1 else ''} {', '.join(map(str, common))})")
        if gaps:
            print("\nAverage accuracy minus the dense MLP's, paired by seed (points): " + "; ".join(gaps) + ".")
        tl = []
        for k in keys:
            if k in cpu:
                u = [t[0] for t in cpu[k]]; w = [t[1] for t in cpu[k]]
                rng = lambda v, f: f"{min(v):{f}}" if len(v) == 1 else f"{min(v):{f}}–{max(v):{f}}"
                tl.append(f"{NAMES.get(k[2], k[2])}{' + SI' if k[3] > 0 else ''} {rng(u, '.1f')} s CPU "
                          f"({rng(w, '.0f')} s wall)")
        if tl:
            print("\nCPU (user) and wall time per run, single-threaded: " + "; ".join(tl) + ".")
        os.makedirs(img, exist_ok=True)
        dat = os.path.join(d, f"{proto}-{T}.dat")
        with open(dat, "w") as f:
            for name, c1, ca in curves:
                f.write(f"# {name}\n")
                for t in range(T):
                    f.write(f"{t + 1} {c1[t][0]:.4f} {c1[t][1]:.4f} {ca[t][0]:.4f} {ca[t][1]:.4f}\n")
                f.write("\n\n")
        png = os.path.join(img, f"continual-{proto}-{T}.png")
        plots1 = ", ".join(f"'{dat}' index {i} using 1:2:3 with yerrorlines title '{n}'" for i, (n, _, _) in enumerate(curves))
        plots2 = ", ".join(f"'{dat}' index {i} using 1:4:5 with yerrorlines title '{n}'" for i, (n, _, _) in enumerate(curves))
        gp = f"""set terminal pngcairo size 1200,460 font ',10'
set output '{png}'
set multiplot layout 1,2 title 'Fashion-MNIST, {HEADINGS.get(proto, proto).replace("`", "")}, {T} tasks (mean ± std over seeds)'
set xlabel 'tasks trained'; set ylabel 'accuracy (%)'; set key bottom left; set grid
set xrange [0.5:{T}.5]
set title 'task 1 accuracy'
plot {plots1}
set title 'average accuracy over the tasks seen so far'
plot {plots2}
unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
        if r.returncode:
            sys.stderr.write(r.stderr)
        else:
            print(f"\n![{proto} {T}]({os.path.relpath(png, 'docs')})")

if __name__ == "__main__":
    main()
