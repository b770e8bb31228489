# zeroskip — build, test, demo.  `make help` lists the targets.
CC      ?= cc
OPT     ?= -O2 -g
CFLAGS  ?=
CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE
WARN    := -std=c11 -Wall -Wextra -Wno-unused-parameter
ALLCFLAGS = $(OPT) $(WARN) -fPIC -pthread $(CFLAGS)
LDLIBS  := -lcjson -ldnnl -lgomp -lsndfile -lsamplerate -lfftw3f -lz -lm -lpthread
BUILD   ?= build
PYTHON  ?= /usr/bin/python3
# shared library version = the header's; soname libzeroskip.so.$(SOMAJOR)
VERSION := $(shell sed -n 's/^\#define ZS_VERSION_STRING "\(.*\)"/\1/p' include/zeroskip.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

# ISA-specific flags go to the ISA files only (portable default build).
# src/cpu.c checks every feature named here before it picks an ISA.
AVX2_FLAGS   := -mavx2 -mfma -mpopcnt
AVX512_FLAGS := $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl
# The kernels' hot loops at fixed alignments: where the linker happens to
# put them otherwise moved a stage by up to 20 % between builds that differ
# elsewhere (docs/BENCHMARKS.md, 2026-11-29 08:30 UTC section).
KERNEL_FLAGS := -falign-functions=64 -falign-loops=32

LIB_SRC  := $(sort $(wildcard src/*.c) $(wildcard src/kernels/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(sort $(wildcard cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_COMMON := $(BUILD)/tests/check.o

.PHONY: all lib cli tests test test-asan demo models help clean bench fuzz tsan valgrind python man install uninstall hw hw-lint hw-synth
all: lib cli tests python

lib: $(BUILD)/libzeroskip.a $(BUILD)/libzeroskip.so
cli: $(BUILD)/zeroskip
tests: $(TEST_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*.h src/kernels/*.h cli/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) $(if $(findstring _avx512,$<),$(AVX512_FLAGS),$(if $(findstring _avx2,$<),$(AVX2_FLAGS),)) $(if $(findstring src/kernels/,$<),$(KERNEL_FLAGS),) -c $< -o $@

# the command sees only the public header (tests/cli_headers.sh checks it too)
$(CLI_OBJ): CPPFLAGS := -Iinclude -D_GNU_SOURCE

$(BUILD)/libzeroskip.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libzeroskip.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libzeroskip.so.$(SOMAJOR) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libzeroskip.so: $(BUILD)/libzeroskip.so.$(VERSION)
	ln -sf libzeroskip.so.$(VERSION) $(BUILD)/libzeroskip.so.$(SOMAJOR)
	ln -sf libzeroskip.so.$(SOMAJOR) $@

$(BUILD)/zeroskip: $(CLI_OBJ) $(BUILD)/libzeroskip.a
	$(CC) $(ALLCFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libzeroskip.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(TEST_COMMON) $(BUILD)/libzeroskip.a $(wildcard include/*.h src/*.h src/kernels/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -Itests -o $@ $< $(TEST_COMMON) $(BUILD)/libzeroskip.a $(LDLIBS)

# The README's test command: every test binary, then one summary line.
test: all
	@BUILD=$(BUILD) sh tests/run_tests.sh

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# libFuzzer targets (clang), each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) -f fuzz/Makefile.fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# ThreadSanitizer over the multi-network/multi-thread tests; Valgrind over
# the CLI's main paths (docs/RELIABILITY.md).
tsan:
	sh scripts/tsan.sh
valgrind: cli
	BUILD=$(BUILD) sh scripts/valgrind.sh

# the replay test #includes fuzz/*.c; rebuild it when they change
$(BUILD)/tests/test_fuzz_replay: $(wildcard fuzz/*.c fuzz/*.h)

# The Python module (python/zeroskip) loads $(BUILD)/libzeroskip.so in place:
# PYTHONPATH=$(CURDIR)/python python3 -c 'import zeroskip'
python: $(BUILD)/libzeroskip.so

# Man pages, generated from the --help text of the CLI.
man: $(BUILD)/man/zeroskip.1
$(BUILD)/man/zeroskip.1: $(BUILD)/zeroskip scripts/make_man.py
	@mkdir -p $(BUILD)/man
	$(PYTHON) scripts/make_man.py $(BUILD)/zeroskip $(VERSION) $(BUILD)/man

# make install [PREFIX=/usr/local] [DESTDIR=staging]; make uninstall (same vars).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MODELDIR   ?= $(DATADIR)/zeroskip/models
# on python3's default path for /usr (Debian) and /usr/local
PYVER      := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR  ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(PYVER)/dist-packages)
MODELS     := $(wildcard models/*.safetensors) models/README.md
PYFILES    := $(wildcard python/zeroskip/*.py)

install: lib cli man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MODELDIR) \
	    $(DESTDIR)$(PYTHONDIR)/zeroskip
	install -m 755 $(BUILD)/zeroskip $(DESTDIR)$(BINDIR)/zeroskip
	install -m 755 $(BUILD)/libzeroskip.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libzeroskip.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzeroskip.so.$(SOMAJOR)
	ln -sf libzeroskip.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libzeroskip.so
	install -m 644 $(BUILD)/libzeroskip.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/zeroskip.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@LDLIBS@|$(LDLIBS)|' zeroskip.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/zeroskip.pc
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MODELS) $(DESTDIR)$(MODELDIR)/
	install -m 644 $(PYFILES) $(DESTDIR)$(PYTHONDIR)/zeroskip/
	printf '"""Written by make install."""\nLIBRARY = "%s"\nMODELS = "%s"\n' \
	    "$(LIBDIR)/libzeroskip.so.$(SOMAJOR)" "$(MODELDIR)" >$(DESTDIR)$(PYTHONDIR)/zeroskip/_install.py

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/zeroskip $(DESTDIR)$(LIBDIR)/libzeroskip.so* $(DESTDIR)$(LIBDIR)/libzeroskip.a \
	    $(DESTDIR)$(INCLUDEDIR)/zeroskip.h $(DESTDIR)$(PKGCONFIGDIR)/zeroskip.pc \
	    $(DESTDIR)$(MANDIR)/man1/zeroskip.1 $(DESTDIR)$(MANDIR)/man1/zeroskip-*.1
	rm -rf $(DESTDIR)$(DATADIR)/zeroskip $(DESTDIR)$(PYTHONDIR)/zeroskip

demo:
	@sh scripts/demo.sh

# Retrain the shipped models from scratch and regenerate docs/RESULTS.md
# (data set, 3 networks x 3 seeds, noise robustness, training speed).
models: cli
	sh scripts/train_models.sh

# The benchmark tables of docs/BENCHMARKS.md (with ONNX Runtime and PyTorch peers).
bench: cli
	BUILD=$(BUILD) sh bench/run_bench.sh

# The FPGA core (docs/FPGA.md): Verilator models of hw/zs_core.v (one per
# lane count, buffers sized for HW_MODEL) + harness -> build/zeroskip-hw.
HW_MODEL ?= models/gsc-sparse.safetensors
HW_CALIB ?= models/calib-gsc.safetensors
HW_LANES ?= 4 16
HW_DENSE_MODEL ?= models/gsc-dense.safetensors
HW_DENSE_LANES ?=
hw: lib cli
	BUILD=$(BUILD) HW_MODEL=$(HW_MODEL) HW_CALIB=$(HW_CALIB) HW_LANES="$(HW_LANES)" \
	HW_DENSE_MODEL=$(HW_DENSE_MODEL) HW_DENSE_LANES="$(HW_DENSE_LANES)" \
	LDLIBS="$(LDLIBS)" CXXFLAGS="$(OPT)" sh hw/build.sh
hw-lint:
	verilator --lint-only -Wall hw/zs_core.v
# Yosys generic synthesis per lane count, sparse and dense (docs/FPGA.md)
hw-synth: cli
	BUILD=$(BUILD) HW_MODEL=$(HW_MODEL) HW_CALIB=$(HW_CALIB) HW_DENSE_MODEL=$(HW_DENSE_MODEL) sh hw/synth.sh

help:
	@echo "make [all]     build library, CLI (build/zeroskip) and tests"
	@echo "make test      run the test suite (prints 'N passed, M failed, K skipped')"
	@echo "make test-asan the suite under ASan+UBSan"
	@echo "make python    the Python module (PYTHONPATH=python, see README)"
	@echo "make install   PREFIX=/usr/local [DESTDIR=]: library, header, pkg-config,"
	@echo "               CLI, man pages, Python module, models; make uninstall"
	@echo "make demo      hear words with the shipped model, then a speed comparison"
	@echo "make fuzz      run each libFuzzer target FUZZ_SECONDS (clang)"
	@echo "make tsan      ThreadSanitizer run of the concurrency tests"
	@echo "make valgrind  Valgrind over the CLI's main paths"
	@echo "make models    retrain the shipped models, regenerate docs/RESULTS.md (hours)"
	@echo "make bench     regenerate docs/BENCHMARKS.md (peers need bench/setup.sh)"
	@echo "make hw        build/zeroskip-hw: the FPGA core simulated by Verilator (docs/FPGA.md)"
	@echo "make hw-lint   verilator --lint-only -Wall on hw/zs_core.v"
	@echo "make hw-synth  Yosys resource estimates of the core (docs/FPGA.md)"

clean:
	rm -rf build build-asan build-*
