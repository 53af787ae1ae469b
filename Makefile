# Build, run and test the engine.  `make help` lists the targets.
#
#   make run        install missing packages, build, analyse pcaps/ with the default scripts
#   make test       install missing packages, build, run every test (also under ASan+UBSan)
#
# Flavours: `make SANITIZE=1` builds into build/asan with AddressSanitizer and
# UndefinedBehaviorSanitizer.  Dependency files come from -MMD.

CC       ?= gcc
PKGS     := luajit libpcap zlib libedit libmagic nettle gnutls
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wshadow -Wformat-security -Wno-unused-parameter -fPIC -MMD -MP \
            -D_GNU_SOURCE -Iengine -Idecoders
LDLIBS   += -lm -lpthread
# `make run` and `make test` build on every core; the test suites run one after another
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
# ThreadSanitizer (-j N: the reader, the workers and the shared log output): build/tsan
BUILD    ?= build/tsan
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
else
BUILD    ?= build
endif

# pkg-config is asked only when building (not for `make deps`/`help`/`clean`)
ifeq ($(filter deps help clean distclean,$(MAKECMDGOALS)),)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
endif
CFLAGS  += $(PKG_CFLAGS)

# the core library: everything in engine/ and decoders/ but the CLI and the Lua bridge
CLI_SRC   := engine/cli.c
LUA_SRC   := $(wildcard engine/lua_*.c)
CORE_SRC  := $(filter-out $(CLI_SRC) $(LUA_SRC),$(wildcard engine/*.c)) $(wildcard decoders/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
LUA_OBJ   := $(LUA_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

ENGINE    := $(BUILD)/engine
LUAMOD    := $(BUILD)/engine_core.so
EMBED_SRC := $(wildcard tests/embed/*.c)
EMBED_BIN := $(EMBED_SRC:tests/embed/%.c=$(BUILD)/embed/%)
LIBA      := $(BUILD)/libengine.a
LIBSO     := $(BUILD)/libengine.so
# make bench's generator and C harness (tests/bench/, docs/performance.md); built by `all`
# so that tests/e2e/test_bench_smoke.sh runs in every build
BENCH_BIN := $(BUILD)/bench/benchgen $(BUILD)/bench/benchrun

.PHONY: all deps run test test-quick unit e2e asan fuzz fuzz-run bench clean help

all: $(ENGINE) $(LIBA) $(LIBSO) $(UNIT_BIN) $(TOOL_BIN) $(LUAMOD) $(EMBED_BIN) $(BENCH_BIN)

help:
	@echo "make run        build and analyse pcaps/ with the default scripts (JSON logs to build/run/)"
	@echo "make test       every test: unit, Lua, end-to-end, and the same under ASan+UBSan"
	@echo "make test-quick the tests without the sanitizer pass"
	@echo "make fuzz       build the fuzz targets (clang, libFuzzer) into build/fuzz/"
	@echo "make fuzz-run   run each fuzz target for FUZZ_SECONDS (default 60)"
	@echo "make bench      the benchmark table (docs/performance.md); make bench-quick: BENCH_MB=20"
	@echo "make deps       install the Debian packages the build and tests need"
	@echo "make SANITIZE=1 build with ASan+UBSan into build/asan"
	@echo "make SANITIZE=thread  build with TSan into build/tsan (tests/e2e/test_workers.sh build/tsan)"

# ---- packages -------------------------------------------------------------
deps:
	@sh tests/deps.sh

# ---- build ----------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBA): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# -Wl,-E: the Lua side reaches the engine's functions through ffi.C
$(ENGINE): $(CLI_OBJ) $(LUA_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(CLI_OBJ) $(LUA_OBJ) -Wl,--whole-archive $(LIBA) \
	    -Wl,--no-whole-archive $(PKG_LIBS) $(LDLIBS)

# ---- testing support ----
# the core as a Lua C module for busted (engine.testing, docs/testing.md).
# Not linked with -lluajit: the luajit binary exports the Lua API, and the
# module must use that one copy of the VM.
MOD_LIBS := $(if $(PKG_LIBS),$(shell pkg-config --libs $(filter-out luajit,$(PKGS)) 2>/dev/null))
$(LUAMOD): $(BUILD)/obj/engine/lua_module.o $(BUILD)/obj/engine/lua_bridge.o $(LIBA)
	$(CC) -shared $(LDFLAGS) -o $@ $(BUILD)/obj/engine/lua_module.o $(BUILD)/obj/engine/lua_bridge.o \
	    -Wl,--whole-archive $(LIBA) -Wl,--no-whole-archive $(MOD_LIBS) $(LDLIBS)

# C embedding examples (c-api.md): the library alone, no Lua, linked the way
# an embedding program would link libengine.a
$(BUILD)/embed/%: tests/embed/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(MOD_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBA) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS) $(LDLIBS)

# ---- run ------------------------------------------------------------------
RUN_PCAP ?= pcaps/http-curl.pcap
run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@mkdir -p build/run
	$(ENGINE) -r $(RUN_PCAP) -o build/run --stats
	@echo "logs written to build/run/:"; ls -l build/run

# ---- tests ----------------------------------------------------------------
# test: the whole suite with the normal build, then again under ASan+UBSan.
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=1 all
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory -j$(JOBS) -s fuzz; fi
	@sh tests/run.sh build build/asan

test-quick: all
	@sh tests/run.sh build

# ---- fuzzing --------------------------------------------------------------
# The core is compiled once with clang's sanitizers and fuzzer instrumentation
# into build/fuzz/obj; each target links against it. tests/fuzz/stream.c is
# one target per TCP decoder (fuzz_stream_<decoder>, the name given at build
# time); fuzz_lua also links the Lua bridge. docs/testing.md, "Fuzzing".
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
STREAM_DECODERS := http smtp pop3 imap ftp sip ssl
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%) $(STREAM_DECODERS:%=fuzz_stream_%)
FUZZ_BIN := $(FUZZ_NAMES:%=build/fuzz/%)
FUZZ_OBJ := $(CORE_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_LUA_OBJ := $(LUA_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iengine -Idecoders $(PKG_CFLAGS) -MMD -MP -fno-sanitize-recover=undefined
FUZZ_SAN := address,undefined
FUZZ_SECONDS ?= 60

fuzz: $(FUZZ_BIN)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(STREAM_DECODERS:%=build/fuzz/fuzz_stream_%): build/fuzz/fuzz_stream_%: tests/fuzz/stream.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -DFZ_DECODER='"$*"' -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) $(LDLIBS)

# -Wl,-E: lua/engine.lua reaches the engine's functions through ffi.C
build/fuzz/fuzz_lua: tests/fuzz/fuzz_lua.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ) $(FUZZ_LUA_OBJ)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -Wl,-E -o $@ $< $(FUZZ_LUA_OBJ) $(FUZZ_OBJ) $(PKG_LIBS) $(LDLIBS)

$(filter-out build/fuzz/fuzz_lua,$(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)): build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) $(LDLIBS)

# each target also runs over its corpus, tests/fuzz/corpus/<name without fuzz_>
fuzz-run: fuzz
	@for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; \
	    mkdir -p build/fuzz/corpus-$$n; \
	    echo "== $$f for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=20 build/fuzz/corpus-$$n \
	        $$( [ -d $$c ] && echo $$c ) tests/fuzz/seeds || exit 1; \
	done

# The same targets with tests/fuzz/replay.c as main() instead of libFuzzer, built
# with $(CC) in every build (normal, asan): tests/fuzz/replay.sh runs the corpora
# through them, also where clang is absent.
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzzreplay/%)
REPLAY_OBJ := $(BUILD)/obj/tests/fuzz/replay.o
all: $(REPLAY_BIN)

$(STREAM_DECODERS:%=$(BUILD)/fuzzreplay/fuzz_stream_%): $(BUILD)/fuzzreplay/fuzz_stream_%: tests/fuzz/stream.c tests/fuzz/fuzz_common.h $(REPLAY_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFZ_DECODER='"$*"' $(LDFLAGS) -o $@ $< $(REPLAY_OBJ) $(LIBA) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/fuzzreplay/fuzz_lua: tests/fuzz/fuzz_lua.c tests/fuzz/fuzz_common.h $(REPLAY_OBJ) $(LUA_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,-E -o $@ $< $(REPLAY_OBJ) $(LUA_OBJ) -Wl,--whole-archive $(LIBA) \
	    -Wl,--no-whole-archive $(PKG_LIBS) $(LDLIBS)

$(filter-out $(BUILD)/fuzzreplay/fuzz_lua,$(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzzreplay/%)): $(BUILD)/fuzzreplay/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(REPLAY_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(REPLAY_OBJ) $(LIBA) $(PKG_LIBS) $(LDLIBS)

# ---- benchmark (docs/performance.md) --------------------------------------
# Not part of `make test`. Built with the normal flags ($(OPT)); inputs are generated
# once into build/bench/ (cached by seed and size). BENCH_MB, BENCH_RUNS, BENCH_SEED,
# BENCH_ONLY (e.g. "http smtp") shrink or select a run; `make bench-quick` is BENCH_MB=20.
BENCH_MB  ?= 200
BENCH_RUNS ?= 3
BENCH_SEED ?= 1
BENCH_ONLY ?=
.PHONY: bench-quick bench-bins

$(BUILD)/bench/%: tests/bench/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(PKG_LIBS) $(LDLIBS)

bench-bins: $(ENGINE) $(BENCH_BIN)

bench:
	@BENCH=1 sh tests/deps.sh
	@$(MAKE) --no-print-directory -j$(JOBS) bench-bins
	@python3 tests/bench/bench.py --build $(BUILD) --mb $(BENCH_MB) --runs $(BENCH_RUNS) \
	    --seed $(BENCH_SEED) --cflags "$(filter-out -I% -MMD -MP,$(CFLAGS))" $(if $(BENCH_ONLY),--only "$(BENCH_ONLY)")

bench-quick:
	@$(MAKE) --no-print-directory bench BENCH_MB=20

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
