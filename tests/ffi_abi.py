"""ffi_abi.py -- the Python module's hand-written cffi declarations
(python/zeroskip/_ffi.py CDEF) checked against include/zeroskip.h by the C
compiler: every function prototype of CDEF is redeclared after including
the header (a conflicting type is a compile error), and a program built
against the header prints sizeof/offsetof of every struct field and the
value of every enumerator CDEF declares, which must equal what cffi
computed from CDEF. Prints one line per mismatch and `RESULT <pass> <fail>`.
Usage: python3 tests/ffi_abi.py [CC]"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from zeroskip._ffi import CDEF, ffi  # noqa: E402  (no library is loaded)

cc = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CC", "cc")
text = re.sub(r"/\*.*?\*/", "", CDEF, flags=re.S)
stmts = [re.sub(r"\s+", " ", s).strip() for s in text.split(";")]
protos = [s + ";" for s in stmts
          if "(" in s and not s.startswith("typedef") and not s.startswith("void free(")]
structs = re.findall(r"typedef struct (\w+) \{", text)
enums = re.findall(r"typedef enum (\w+) \{([^}]*)\}", text)

checks = []   # (expression in C, value cffi computed)
for name in structs:
    t = ffi.typeof(name)
    checks.append(("sizeof(%s)" % name, ffi.sizeof(t)))
    for field, f in t.fields:
        checks.append(("offsetof(%s, %s)" % (name, field), f.offset))
        checks.append(("sizeof(((%s *)0)->%s)" % (name, field), ffi.sizeof(f.type)))
for name, _ in enums:
    for e, v in sorted(ffi.typeof(name).relements.items()):
        checks.append(("(long long)%s" % e, v))

head = ["#include <stddef.h>", "#include <stdio.h>", "#include <stdint.h>", '#include "zeroskip.h"', ""]
main = ["int main(void) {"]
for expr, _ in checks:
    main.append('    printf("%%lld\\n", (long long)(%s));' % expr)
main += ["    return 0;", "}", ""]

passed = failed = 0
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
inc = ["-std=c11", "-Wall", "-Werror", "-I", os.path.join(root, "include")]
with tempfile.TemporaryDirectory() as d:
    # 1. every prototype, redeclared after the header: a mismatch is an error
    proto_c = os.path.join(d, "protos.c")
    with open(proto_c, "w") as f:
        f.write("\n".join(head + protos + [""]))
    r = subprocess.run([cc] + inc + ["-fsyntax-only", proto_c], capture_output=True, text=True)
    if r.returncode != 0:
        failed += 1
        print("FAIL: CDEF prototypes disagree with include/zeroskip.h:\n" + r.stderr[:3000])
    else:
        passed += 1
    # 2. layouts and enum values as the header gives them
    c = os.path.join(d, "abi.c")
    exe = os.path.join(d, "abi")
    with open(c, "w") as f:
        f.write("\n".join(head + main))
    r = subprocess.run([cc] + inc + [c, "-o", exe], capture_output=True, text=True)
    if r.returncode != 0:
        failed += 1
        print("FAIL: a struct field or enumerator of CDEF is not in include/zeroskip.h:\n" + r.stderr[:3000])
    else:
        got = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split()
        for (expr, want), g in zip(checks, got):
            if int(g) == want:
                passed += 1
            else:
                failed += 1
                print("FAIL: %s is %s in C, %s in the cffi declarations" % (expr, g, want))
print("%d prototypes, %d structs, %d enums checked" % (len(protos), len(structs), len(enums)))
print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
