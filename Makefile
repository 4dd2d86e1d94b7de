# taskroute: library, CLI and server.  `make help` lists the targets.
#
# Every .c and .cc under src/ goes into the library except src/cli/,
# src/server/ and src/upstream/ (the client of upstream providers, on
# libcurl), which make the binary, and src/mpi/, which `make mpi` builds
# into build/taskroute-mpi with mpicc (docs/distributed.md).  Includes name their folder
# ("base/util.h"), so -Isrc is the one internal include root.  Objects live in $(BUILD) so a sanitizer
# build (make asan) never mixes with the normal one.
#
# The shared library exports the functions of include/taskroute.h and
# nothing else: its objects are compiled with hidden visibility, the header
# marks each public function TR_API, and libtaskroute.map keeps the C++
# wrappers' template instances local (tests/e2e_install.sh checks the list).
# The version is the header's TR_VERSION_* (the one place it is stated):
# libtaskroute.so -> libtaskroute.so.MAJOR (the soname) -> libtaskroute.so.X.Y.Z.
# The binary, the tests, the benchmarks and the fuzzers link libtaskroute.a
# and may use internal headers; src/README.md lists which and why.

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
CXX      ?= c++
CFLAGS   ?= -O2 -g
CXXFLAGS ?= -O2 -g
SAN      ?=

PKGS      := igraph openblas lapacke sentencepiece libcjson
PKGS_BIN  := libmicrohttpd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_BIN) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PKG_LIBS_BIN := $(shell pkg-config --libs $(PKGS_BIN) 2>/dev/null)

TR_VERSION_PART = $(shell sed -n 's/^\#define TR_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/taskroute.h)
VERSION  := $(call TR_VERSION_PART,MAJOR).$(call TR_VERSION_PART,MINOR).$(call TR_VERSION_PART,PATCH)
SOMAJOR  := $(call TR_VERSION_PART,MAJOR)
SONAME   := libtaskroute.so.$(SOMAJOR)

WARN     := -Wall -Wextra -Werror
CPPFLAGS += -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
ALL_CFLAGS   = -std=c11 $(WARN) -fPIC -pthread $(CFLAGS) $(SAN) $(PKG_CFLAGS)
ALL_CXXFLAGS = -std=c++17 $(WARN) -fPIC -pthread $(CXXFLAGS) $(SAN) $(PKG_CFLAGS)
LDLIBS_LIB   = $(PKG_LIBS) -lstdc++ -lm -pthread

LIB_SRC := $(shell find src \( -path src/cli -o -path src/server -o -path src/upstream -o -path src/mpi \) -prune -o -type f \( -name '*.c' -o -name '*.cc' \) -print)
LIB_C   := $(sort $(filter %.c,$(LIB_SRC)))
LIB_CXX := $(sort $(filter %.cc,$(LIB_SRC)))
BIN_C   := $(sort $(wildcard src/cli/*.c src/server/*.c src/upstream/*.c))
TEST_C  := $(sort $(wildcard tests/test_*.c))
BENCH_C := $(sort $(wildcard bench/bench_*.c))

LIB_OBJ := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
BIN_OBJ := $(BIN_C:%.c=$(BUILD)/%.o)
TESTS   := $(TEST_C:tests/%.c=$(BUILD)/tests/%)
BENCHES := $(BENCH_C:bench/%.c=$(BUILD)/bench/%)

MPICC    ?= mpicc
MPI_C    := $(sort $(wildcard src/mpi/*.c))
MPI_OBJ  := $(MPI_C:%.c=$(BUILD)/%.o)
MPI_CLI  := $(BUILD)/src/cli/common.o $(BUILD)/src/cli/cli_train_opts.o $(BUILD)/src/cli/report_md.o
MPI_BIN  := $(BUILD)/taskroute-mpi

STATIC := $(BUILD)/libtaskroute.a
SHARED := $(BUILD)/libtaskroute.so.$(VERSION)
SOLINKS := $(BUILD)/$(SONAME) $(BUILD)/libtaskroute.so
BIN    := $(BUILD)/taskroute

.PHONY: all deps test asan valgrind demo bench clean install help fuzz mpi
all: $(STATIC) $(SHARED) $(SOLINKS) $(BIN) taskroute

help:
	@echo "make            build libtaskroute.a/.so and ./taskroute"
	@echo "make deps       install the missing Debian packages (scripts/deps.sh)"
	@echo "make demo       install deps, build, make the demo data, train, evaluate"
	@echo "make test       install deps, build, run unit and end-to-end tests"
	@echo "make asan       the tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make valgrind   the unit tests under valgrind memcheck"
	@echo "make bench      build the benchmarks (bench/README.md says how to run them)"
	@echo "make fuzz       the libFuzzer targets tests/fuzz/*.c (clang) into build-fuzz/fuzz/"
	@echo "make mpi        build/taskroute-mpi, training under Open MPI (scripts/deps.sh mpi installs it)"
	@echo "make install    PREFIX=$(PREFIX): libtaskroute.a, libtaskroute.so.$(VERSION) and its links,"
	@echo "                taskroute.h, taskroute.pc, the taskroute binary"
	@echo "make clean      remove build/, build-asan/, build-fuzz/ and ./taskroute"

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(ALL_CXXFLAGS) -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# only the library's own objects hide their symbols (the binaries' need not);
# they are rebuilt when the flags here change, or an old object would export
$(LIB_OBJ): ALL_CFLAGS += -fvisibility=hidden
$(LIB_OBJ): ALL_CXXFLAGS += -fvisibility=hidden -fvisibility-inlines-hidden
$(LIB_OBJ): Makefile

$(SHARED): $(LIB_OBJ) libtaskroute.map
	$(CXX) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=libtaskroute.map -Wl,--no-undefined \
	  -o $@ $(LIB_OBJ) $(SAN) $(LDLIBS_LIB)

$(BUILD)/$(SONAME): $(SHARED)
	ln -sf $(notdir $<) $@
$(BUILD)/libtaskroute.so: $(BUILD)/$(SONAME)
	ln -sf $(notdir $<) $@

$(BIN): $(BIN_OBJ) $(STATIC)
	$(CC) $(SAN) -o $@ $(BIN_OBJ) $(STATIC) $(PKG_LIBS_BIN) $(LDLIBS_LIB)

taskroute: $(BIN)
	@if [ "$(BUILD)" = build ]; then ln -sf $(BIN) taskroute; fi

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(STATIC) -lcmocka $(LDLIBS_LIB)

$(BUILD)/bench/%: bench/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(PKG_LIBS_BIN) $(LDLIBS_LIB)

test: deps
	@$(MAKE) --no-print-directory all-tests
	@scripts/run-tests.sh $(BUILD)

# with Open MPI installed (and no sanitizer), the tests cover taskroute-mpi too
HAVE_MPI := $(if $(SAN),,$(shell command -v $(MPICC) 2>/dev/null))
all-tests: $(STATIC) $(BIN) $(TESTS) $(if $(HAVE_MPI),$(MPI_BIN))
.PHONY: all-tests

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  CXXFLAGS="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all-tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  TR_SANITIZED=1 scripts/run-tests.sh build-asan

valgrind: all-tests
	@TR_VALGRIND=1 scripts/run-tests.sh $(BUILD)

bench: $(STATIC) $(BIN) $(BENCHES)

# libFuzzer targets: the library rebuilt by clang with coverage + ASan in
# build-fuzz/, each tests/fuzz/X.c linked with -fsanitize=fuzzer.
FUZZ_CC  ?= clang
FUZZ_CXX ?= clang++
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*.c))
fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) not found; install it: apt-get install -y clang libclang-rt-14-dev" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) CFLAGS="-O1 -g" \
	  CXXFLAGS="-O1 -g" SAN="-fsanitize=fuzzer-no-link,address" fuzzers
fuzzers: $(FUZZERS)
.PHONY: fuzzers
$(BUILD)/fuzz/%: tests/fuzz/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -fsanitize=fuzzer -o $@ $< $(STATIC) $(LDLIBS_LIB)

# taskroute-mpi: src/mpi/ compiled by mpicc, linked with the CLI's shared
# helpers and the library.  Not part of `all`: Open MPI is optional.
mpi:
	@command -v $(MPICC) >/dev/null 2>&1 || { echo "make mpi: $(MPICC) not found; install Open MPI: scripts/deps.sh mpi" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(MPI_BIN)
$(BUILD)/src/mpi/%.o: src/mpi/%.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
$(MPI_BIN): $(MPI_OBJ) $(MPI_CLI) $(STATIC)
	$(MPICC) $(SAN) -o $@ $(MPI_OBJ) $(MPI_CLI) $(STATIC) $(LDLIBS_LIB)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(STATIC) $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(notdir $(SHARED)) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libtaskroute.so
	install -m 644 include/taskroute.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' taskroute.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/taskroute.pc

clean:
	rm -rf build build-asan build-fuzz taskroute

# tests and fuzz targets compile server sources in: their .d files say which
-include $(LIB_OBJ:.o=.d) $(BIN_OBJ:.o=.d) $(TESTS:=.d) $(FUZZERS:=.d) $(MPI_OBJ:.o=.d)
