#!/bin/sh
# cli_install.sh — `make install` into a temporary prefix, used the way
# people will: a C program built with `pkg-config --cflags --libs zeroskip`
# (and statically with --static), the installed CLI and shipped models, the
# man pages (`man -l` and `man` through MANPATH), the installed Python
# module; then `make uninstall` leaves no file behind; DESTDIR staging.
# Skipped, with the reason printed, for sanitizer builds.
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
MAKE=${MAKE:-make}

if sanitized "$BUILD/libzeroskip.so"; then
    skip_suite "$BUILD is a sanitizer build; the install test runs on the normal build"
fi
P=$T/prefix
if ! $MAKE -s --no-print-directory BUILD="$BUILD" PREFIX="$P" install >"$T/log" 2>&1; then
    bad "make install PREFIX=$P"; tail -20 "$T/log"
    finish
fi
ok
V=$("$ZS" version | awk '{print $2}')
MAJOR=${V%%.*}

# ---- library: soname and version links, static archive, header, .pc ------
check "libzeroskip.so.$V is a file" test -f "$P/lib/libzeroskip.so.$V" -a ! -L "$P/lib/libzeroskip.so.$V"
check "libzeroskip.so.$MAJOR -> libzeroskip.so.$V" test "$(readlink "$P/lib/libzeroskip.so.$MAJOR")" = "libzeroskip.so.$V"
check "libzeroskip.so -> libzeroskip.so.$MAJOR" test "$(readlink "$P/lib/libzeroskip.so")" = "libzeroskip.so.$MAJOR"
check "SONAME libzeroskip.so.$MAJOR" sh -c "readelf -d '$P/lib/libzeroskip.so.$V' | grep -q 'SONAME.*\[libzeroskip.so.$MAJOR\]'"
check "libzeroskip.a" test -s "$P/lib/libzeroskip.a"
check "zeroskip.h" cmp -s include/zeroskip.h "$P/include/zeroskip.h"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
check "pkg-config --modversion = $V" test "$(pkg-config --modversion zeroskip)" = "$V"
check "pkg-config --cflags" test "$(pkg-config --cflags zeroskip | tr -d " ")" = "-I$P/include"

# a program that uses the installed library as an embedder would
cat >"$T/t.c" <<'C'
#include <zeroskip.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    zs_net *net = NULL;
    zs_frontend *fe = NULL;
    float *x = NULL, clip[ZS_CLIP_SAMPLES], feat[ZS_N_MELS * ZS_N_FRAMES], logp[ZS_MAX_CLASSES];
    size_t n = 0;
    if (argc != 3) return 2;
    if (zs_net_load(&net, argv[1]) || zs_frontend_create(&fe) ||
        zs_audio_load(argv[2], ZS_SAMPLE_RATE, 30, &x, &n)) {
        fprintf(stderr, "t: %s\n", zs_last_error());
        return 1;
    }
    zs_clip_fit_centred(x, n, clip);
    if (zs_frontend_logmel(fe, clip, feat) || zs_net_infer(net, feat, 1, logp)) {
        fprintf(stderr, "t: %s\n", zs_last_error());
        return 1;
    }
    int best = 0;
    for (int i = 1; i < zs_net_num_classes(net); i++) if (logp[i] > logp[best]) best = i;
    printf("%s\t%s\t%.4f %s\n", argv[2], zs_net_class_name(net, best), exp(logp[best]), zs_version());
    free(x);
    zs_frontend_free(fe);
    zs_net_free(net);
    zs_net *bad = NULL;
    return zs_net_load(&bad, "/nonexistent") == ZS_EIO && bad == NULL ? 0 : 1;
}
C
M=$P/share/zeroskip/models/gsc-sparse.safetensors
C=demo/clips/7_george_3.wav
check "models installed" test -s "$M" -a -s "$P/share/zeroskip/models/gsc-dense.safetensors"
if cc -std=c11 -Wall -Wextra -Werror -o "$T/t" "$T/t.c" $(pkg-config --cflags --libs zeroskip) -lm 2>"$T/err"; then ok
else bad "cc t.c \$(pkg-config --cflags --libs zeroskip)"; head -5 "$T/err"; fi
want=$("$P/bin/zeroskip" listen --model "$M" "$C")
check "installed CLI recognises $C" sh -c "echo '$want' | grep -q '	seven	'"
got=$(LD_LIBRARY_PATH=$P/lib "$T/t" "$M" "$C")
check "C program = installed CLI (got '$got', want '$want $V')" test "$got" = "$want $V"
check "the program uses the installed libzeroskip.so.$MAJOR" sh -c \
    "LD_LIBRARY_PATH='$P/lib' ldd '$T/t' | grep -q 'libzeroskip.so.$MAJOR => $P/lib/'"
if cc -std=c11 -o "$T/ts" "$T/t.c" $(pkg-config --cflags zeroskip) "$P/lib/libzeroskip.a" \
      $(pkg-config --static --libs-only-l zeroskip | sed 's/-lzeroskip//') -lm 2>"$T/err"; then ok
else bad "static link with pkg-config --static"; head -5 "$T/err"; fi
check "static program = installed CLI" test "$("$T/ts" "$M" "$C")" = "$want $V"
check "static program needs no libzeroskip.so" sh -c "! ldd '$T/ts' | grep -q libzeroskip"

# ---- man pages -----------------------------------------------------------
for c in $("$BUILD/zeroskip" --help | awk '/^  [a-z]/ && $1 != "version" {print $1}'); do
    check "man page zeroskip-$c.1" test -s "$P/share/man/man1/zeroskip-$c.1"
done
if command -v man >/dev/null; then
    check "man -l zeroskip.1" sh -c "man -l '$P/share/man/man1/zeroskip.1' 2>/dev/null | grep -q 'zeroskip - train and run sparse-sparse'"
    check "man zeroskip (MANPATH)" sh -c "MANPATH='$P/share/man' man zeroskip 2>/dev/null | grep -q 'zeroskip-listen(1)'"
    check "man zeroskip-listen documents --raw-rate" sh -c \
        "MANPATH='$P/share/man' man zeroskip-listen 2>/dev/null | grep -q -- '--raw-rate R'"
    check "man -w finds the installed page" test "$(MANPATH=$P/share/man man -w zeroskip-train)" = "$P/share/man/man1/zeroskip-train.1"
else
    skip "man checks (man-db is not installed)"
fi

# ---- the installed Python module -----------------------------------------
R=$(pwd)
PYDIR=$(dirname "$(find "$P/lib" -path '*-packages/zeroskip/__init__.py')")
PYDIR=${PYDIR%/zeroskip}
check "Python module installed under lib/python*/*-packages" test -f "$PYDIR/zeroskip/_install.py"
if "$PY" -c 'import numpy, cffi' 2>/dev/null; then
    got=$(cd "$T" && env -u ZEROSKIP_LIBRARY PYTHONPATH="$PYDIR" "$PY" -c "
import os, zeroskip, zeroskip._ffi as f
assert zeroskip.__file__.startswith('$PYDIR'), zeroskip.__file__
r = zeroskip.Model.load(zeroskip.model_path('gsc-sparse')).recognise('$R/$C')
print('%s\t%s\t%.4f %s' % ('$C', r.label, r.confidence, zeroskip.version()))
" 2>&1)
    check "installed Python module = installed CLI (got '$got')" test "$got" = "$want $V"
else
    skip "installed Python module check (needs python3-numpy and python3-cffi)"
fi

# ---- uninstall; DESTDIR ----------------------------------------------------
$MAKE -s --no-print-directory BUILD="$BUILD" PREFIX="$P" uninstall >"$T/log" 2>&1
check "make uninstall leaves no file" test -z "$(find "$P" ! -type d)"
S=$T/stage
$MAKE -s --no-print-directory BUILD="$BUILD" PREFIX=/usr DESTDIR="$S" install >"$T/log" 2>&1
check "DESTDIR install" test -f "$S/usr/lib/libzeroskip.so.$V" -a -f "$S/usr/lib/python3/dist-packages/zeroskip/__init__.py"
check "DESTDIR: paths inside are the final ones" sh -c "grep -q '^prefix=/usr$' '$S/usr/lib/pkgconfig/zeroskip.pc' && grep -q '\"/usr/lib/libzeroskip.so.$MAJOR\"' '$S/usr/lib/python3/dist-packages/zeroskip/_install.py'"
$MAKE -s --no-print-directory BUILD="$BUILD" PREFIX=/usr DESTDIR="$S" uninstall >"$T/log" 2>&1
check "DESTDIR uninstall" test -z "$(find "$S" ! -type d)"
finish
