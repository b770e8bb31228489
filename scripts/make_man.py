#!/usr/bin/python3
"""make_man.py -- man pages from the CLI's own --help text.

    make_man.py ZEROSKIP VERSION OUTDIR

writes OUTDIR/zeroskip.1 (from `zeroskip --help`: the command list, exit
status) and OUTDIR/zeroskip-CMD.1 for every command that list names (from
`zeroskip CMD --help`: the usage lines become SYNOPSIS, two-space-indented
"ITEM   text" lines become tagged paragraphs, deeper-indented lines continue
them, the rest is running text). So a new subcommand gets its page without
touching this script, and the pages cannot drift from --help.
"""
import re
import subprocess
import sys

ITEM = re.compile(r"^  (\S(?:.*?\S)?)(?:\s{2,}(\S.*))?$")
# "--opt ARG (default) text" with one space before the text
TIGHT = re.compile(r"^(-\S+(?: [A-Z][A-Z0-9_.|]*)?(?: \([^)]*\))?) (\S.*)$")


def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + s if s[:1] in (".", "'") else s


def helptext(z, *args):
    r = subprocess.run([z, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        sys.exit("make_man.py: `%s %s` exited with %d" % (z, " ".join(args), r.returncode))
    return r.stdout.rstrip("\n").split("\n")


def body(lines):
    """roff for the help text after the usage block."""
    out, in_item = [], False
    for ln in lines:
        if not ln.strip():
            out.append(".PP")
            in_item = False
            continue
        m = ITEM.match(ln)
        if m and (m.group(2) is not None or m.group(1).startswith("-")):
            tag, text = m.group(1), m.group(2)
            t = TIGHT.match(tag) if text is None else None
            if t:
                tag, text = t.group(1), t.group(2)
            out += [".TP", "\\fB%s\\fR" % esc(tag)]
            if text:
                out.append(esc(text))
            in_item = True
        elif in_item and ln.startswith("   "):
            out.append(esc(ln.strip()))
        else:
            if in_item:
                out.append(".PP")
            in_item = False
            out.append(esc(ln.strip()))
    while out and out[-1] == ".PP":
        out.pop()
    return out


def header(name, version, what):
    return ['.TH %s 1 "" "zeroskip %s" "zeroskip manual"' % (name.upper(), version),
            ".SH NAME", "%s \\- %s" % (esc(name), esc(what))]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make_man.py ZEROSKIP VERSION OUTDIR")
    z, version, outdir = sys.argv[1:]
    top = helptext(z, "--help")
    cmds = []
    for ln in top:
        m = re.match(r"^  (\w[\w-]*)\s{2,}(\S.*)$", ln)
        if m and m.group(1) not in ("help", "version"):
            cmds.append((m.group(1), m.group(2)))
    if not cmds:
        sys.exit("make_man.py: no commands in `zeroskip --help`")
    pages = {}
    for cmd, what in cmds:
        lines = helptext(z, cmd, "--help")
        if not lines[0].startswith("usage: "):
            sys.exit("make_man.py: `zeroskip %s --help` does not start with 'usage: '" % cmd)
        usage, i = [], 0
        while i < len(lines) and lines[i].strip():
            usage.append(lines[i][len("usage: "):] if i == 0 else lines[i].strip())
            i += 1
        roff = header("zeroskip-" + cmd, version, what)
        roff += [".SH SYNOPSIS", ".nf"] + [esc(u) for u in usage] + [".fi", ".SH DESCRIPTION"]
        roff += body(lines[i + 1:])
        roff += [".SH EXIT STATUS",
                 "0 success, 1 the operation failed, 2 usage error, 3 I/O error.",
                 ".SH SEE ALSO", "\\fBzeroskip\\fR(1)"]
        pages["zeroskip-%s.1" % cmd] = roff
    roff = header("zeroskip", version, "train and run sparse-sparse neural networks")
    roff += [".SH SYNOPSIS", ".nf", "\\fBzeroskip\\fR \\fICOMMAND\\fR [\\fIoptions\\fR]",
             "\\fBzeroskip\\fR \\fICOMMAND\\fR \\-\\-help", "\\fBzeroskip version\\fR", ".fi",
             ".SH DESCRIPTION",
             "zeroskip trains and runs sparse\\-sparse neural networks: sparse weights times "
             "k\\-winners\\-take\\-all activations, with kernels that skip zeros on both sides. "
             "Its reference network is Numenta's GSCSparseCNN keyword spotter.",
             ".SH COMMANDS"]
    for cmd, what in cmds:
        roff += [".TP", "\\fB%s\\fR" % esc(cmd),
                 "%s; see \\fBzeroskip\\-%s\\fR(1)." % (esc(what), esc(cmd))]
    roff += [".SH ENVIRONMENT", ".TP", "\\fBZS_ISA\\fR",
             "scalar, avx2 or avx512: use at most this kernel set.",
             ".SH FILES", ".TP", "\\fIshare/zeroskip/models/\\fR",
             "the shipped models (gsc\\-sparse, gsc\\-dense, gsc\\-supersparse) under the "
             "installation prefix.",
             ".SH EXIT STATUS",
             "0 success, 1 the operation failed (bad or malformed input, numeric problem), "
             "2 usage error, 3 I/O error.",
             ".SH SEE ALSO", ", ".join("\\fBzeroskip\\-%s\\fR(1)" % esc(c) for c, _ in cmds)]
    pages["zeroskip.1"] = roff
    for name, roff in pages.items():
        with open("%s/%s" % (outdir, name), "w") as f:
            f.write("\n".join(roff) + "\n")


if __name__ == "__main__":
    main()
