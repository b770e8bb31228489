"""estimate.py SYNTH CYCLES... — per-device arithmetic for docs/FPGA.md.

SYNTH: the table `make hw-synth` prints (kind lanes lut6 ff mul mul_bits
mem_bits_sync mem_bits_async). CYCLES: files `KIND:LANES:PATH`, PATH a
zeroskip-hw output (FILE<TAB>LABEL<TAB>CYCLES). Prints, per configuration,
cycles/word (mean), words/s per core at CLOCK_MHZ (250), the resources of
one core, how many cores fit a U250-class device and the aggregate words/s.

Device resources (AMD Alveo U250, XCU250; data sheet DS962 / product
brief): 1,728,000 LUTs, 3,456,000 flip-flops, 12,288 DSP slices, 2,688
36-Kb block RAMs (94.5 Mib) + 1,280 288-Kb UltraRAMs (360 Mib). A core's
memory is counted in raw bits against the 454.5 Mib (no port/width
granularity), its asynchronous (LUT RAM) memories as 64 bits per LUT, and
its multipliers as DSP48E2 slices: a 32x17 requantisation multiplier takes
2 (27x18 tiles), every smaller one 1 — per core 4*LANES + 5 multipliers of
which 2*LANES are 32x17, i.e. 6*LANES + 5 slices."""
import sys

CLOCK_MHZ = 250.0
DEV = {"lut": 1728000, "ff": 3456000, "dsp": 12288, "mem": (94.5 + 360.0) * 2**20}

synth = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 8 or f[0] == "kind":
        continue
    synth[(f[0], int(f[1]))] = [int(x) for x in f[2:]]
rows = []
for spec in sys.argv[2:]:
    kind, lanes, path = spec.split(":", 2)
    lanes = int(lanes)
    cyc = [int(l.split("\t")[2]) for l in open(path) if l.count("\t") >= 2]
    mean = sum(cyc) / len(cyc)
    wps = CLOCK_MHZ * 1e6 / mean
    s = synth.get((kind, lanes))
    if s is None:
        rows.append(f"| {kind} | {lanes} | {len(cyc)} | {mean:,.0f} | {wps:,.0f} | (no synthesis) | | | | | | |")
        continue
    lut, ff, mul, mulb, msync, masync = s
    dsp = 6 * lanes + 5
    lut_total = lut + (masync + 63) // 64
    fit = {
        "LUT": DEV["lut"] // lut_total,
        "FF": DEV["ff"] // max(ff, 1),
        "DSP": DEV["dsp"] // dsp,
        "memory": int(DEV["mem"] // msync),
    }
    n = min(fit.values())
    limit = min(fit, key=fit.get)
    rows.append(f"| {kind} | {lanes} | {len(cyc)} | {mean:,.0f} | {wps:,.0f} | {lut_total:,} | {ff:,} | {dsp} "
                f"| {msync / 2**20:.2f} | {n} ({limit}) | {n * wps:,.0f} |")
print("| core | lanes | clips | cycles/word | words/s per core @ 250 MHz | LUT6 (+LUT RAM) | FF | DSP "
      "| block memory Mib | cores per U250 (limit) | words/s per U250 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
