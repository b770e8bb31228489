"""synth_stats.py JSON — multipliers and memories of a coarse Yosys netlist
(write_json after `synth -run begin:fine`): prints
  mul mul_bits mem_bits_sync mem_bits_async
mul_bits: sum of A_WIDTH x B_WIDTH; a memory is sync when a read port is
clocked (block RAM), async otherwise (LUT RAM)."""
import json
import sys


def val(v):
    return int(v, 2) if isinstance(v, str) else int(v)


d = json.load(open(sys.argv[1]))
mul = mulb = sync = asyn = 0
for mod in d["modules"].values():
    for c in mod["cells"].values():
        p = c.get("parameters", {})
        if c["type"] == "$mul":
            mul += 1
            mulb += val(p["A_WIDTH"]) * val(p["B_WIDTH"])
        elif c["type"] in ("$mem", "$mem_v2"):
            bits = val(p["WIDTH"]) * val(p["SIZE"])
            clk = p.get("RD_CLK_ENABLE", "0")
            if isinstance(clk, str) and "1" in clk or (not isinstance(clk, str) and clk):
                sync += bits
            else:
                asyn += bits
print(mul, mulb, sync, asyn)
