# Klangk workspace operator — build, test, run.
#
#   make            build bin/klangkc, bin/klangk-controller, bin/klangk-proxy-gen,
#                   bin/klangk-gateway
#   make test       unit tests, then end-to-end tests on real etcd, Podman, nginx
#   make asan       the same suite built with ASan and UBSan
#   make run        start a local etcd, Podman's API service, the controller,
#                   proxy-gen and nginx under ./run/ and apply the hello example;
#                   Ctrl-C stops them (the workspaces keep running)
#   make run-down   stop the workspaces that make run left running
#   make deps       install missing Debian packages (called by the above)
#   make image      build the workspace image klangk-workspace (images/workspace)
#                   with the local engine, making the Debian base first
#   make fuzz       libFuzzer targets (clang) for FUZZ_SECONDS (60) each
#   make valgrind   the unit tests under valgrind (leaks are failures)
#   make tsan       the unit tests and a handful of the daemons' e2e tests built
#                   with ThreadSanitizer (any report is a failure)
#   make ci         what CI runs: test, then asan-unit (the unit tests with
#                   ASan/UBSan), valgrind and tsan; asan and fuzz are run by hand
#   make images     the controller, nginx-sidecar and etcd images (Dockerfile) in
#                   the engine at DOCKER_HOST, from a local Debian base
#   make install    the binaries into $(DESTDIR)$(PREFIX)/bin (/usr/local/bin)

BUILD   ?= build
BIN     ?= bin
CC      ?= cc
CFLAGS  ?= -O2 -g
SAN     ?=
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wno-missing-field-initializers -pthread -Ilib $(SAN)
override LDFLAGS += -pthread $(SAN)
LDLIBS  += -lcurl -lyaml -ljansson -lcrypto -lmicrohttpd -larchive -lm

LIB_SRC  := $(wildcard lib/*.c)
CLI_SRC  := $(wildcard cli/*.c)
CTL_SRC  := $(wildcard controller/*.c)
PGEN_SRC := $(wildcard proxy-gen/*.c)
GW_SRC   := $(wildcard gateway/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ  := $(CTL_SRC:%.c=$(BUILD)/%.o)
PGEN_OBJ := $(PGEN_SRC:%.c=$(BUILD)/%.o)
# The terminal page, bundled into the gateway (gateway/page.h).
GW_OBJ   := $(GW_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gateway/page_assets.o
WEB      := gateway/web
# Module objects of the daemons (everything but main.c), for unit tests.
CTL_MOD  := $(filter-out $(BUILD)/controller/main.o,$(CTL_OBJ))
PGEN_MOD := $(filter-out $(BUILD)/proxy-gen/main.o,$(PGEN_OBJ))
GW_MOD   := $(filter-out $(BUILD)/gateway/main.o,$(GW_OBJ))
# The modules of klangkc that stand alone (no verb), for unit tests.
CLI_MOD  := $(BUILD)/cli/table.o $(BUILD)/cli/cliopt.o
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

BINS := $(BIN)/klangkc $(BIN)/klangk-controller $(BIN)/klangk-proxy-gen $(BIN)/klangk-gateway
# Test programs of the end-to-end tests (tests/e2e/*.c), run against a bed.
E2E_BIN := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(wildcard tests/e2e/*.c))

.PHONY: all deps test unit e2e e2e-docker asan run run-down clean fuzz fuzz-run valgrind ci asan-unit bench \
	image images install tsan tsan-run
all: $(BINS) $(E2E_BIN)

deps:
	@bash scripts/deps.sh

# The workspace image with the local engine (DOCKER_HOST and the docker CLI,
# else podman; KLANGK_ENGINE=docker|podman picks): the Debian base is made
# with debootstrap and imported first (no registry needed), then
# images/workspace/Dockerfile is built as klangk-workspace.
image: deps
	@bash scripts/workspace-image.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The page's files into C: xterm.js and its fit addon from the pinned
# npm packages (npm ci once, from gateway/web/package-lock.json; then the
# build needs no network), with gateway/web/src.
$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/gateway/page_assets.c: $(WEB)/build.js $(wildcard $(WEB)/src/*) \
		$(WEB)/node_modules/.package-lock.json
	node $(WEB)/build.js $@

$(BUILD)/gateway/page_assets.o: $(BUILD)/gateway/page_assets.c
	$(CC) $(CFLAGS) -Igateway -c $< -o $@

$(BUILD)/libklangk.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BIN)/klangkc: $(CLI_OBJ) $(BUILD)/libklangk.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/klangk-controller: $(CTL_OBJ) $(BUILD)/libklangk.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/klangk-proxy-gen: $(PGEN_OBJ) $(BUILD)/libklangk.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/klangk-gateway: $(GW_OBJ) $(BUILD)/libklangk.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CTL_MOD) $(PGEN_MOD) $(GW_MOD) $(CLI_MOD) $(BUILD)/libklangk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -Icontroller -Iproxy-gen -Igateway -Icli $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/e2e/%: tests/e2e/%.c $(BUILD)/libklangk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(PGEN_MOD) $(BUILD)/libklangk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iproxy-gen $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Benchmarks (not part of `make test`); see BENCHMARKS.md.
bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

# The unit test programs, and the check that every contract between the
# binaries stays with its owner in lib/ (tests/unit/check_contracts.sh).
unit: $(UNIT_BIN)
	@bash tests/run-unit.sh $(UNIT_BIN) tests/unit/check_contracts.sh

# The end-to-end suite on Podman's API service; e2e-docker runs it again
# on Debian's dockerd (KLANGK_E2E_ENGINE selects the engine of the bed).
# Two tests run at once (each on a bed of its own): most of a test's time
# is spent waiting on daemons, so two fit on two cores; E2E_JOBS=1 runs one
# at a time and streams its output.
E2E_JOBS ?= 2
e2e: all
	@E2E_JOBS=$(E2E_JOBS) BIN=$(abspath $(BIN)) bash tests/e2e/run.sh

e2e-docker: all
	@E2E_JOBS=$(E2E_JOBS) KLANGK_E2E_ENGINE=docker BIN=$(abspath $(BIN)) bash tests/e2e/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e
	@E2E_ENGINE_TESTS_ONLY=1 $(MAKE) --no-print-directory e2e-docker

# The whole suite with AddressSanitizer and UndefinedBehaviorSanitizer, in
# its own build and bin directories so the normal build is untouched.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan CFLAGS="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		all unit e2e

# The unit tests under valgrind: any leak or memory error fails them.
valgrind: deps
	@$(MAKE) --no-print-directory $(UNIT_BIN)
	@VALGRIND=1 bash tests/run-unit.sh $(UNIT_BIN)

# libFuzzer targets in tests/fuzz/ (YAML/JSON decoding and validation,
# the mount policy, proxy rendering, the import archive), built with clang,
# ASan and UBSan in their own build directory; each runs FUZZ_SECONDS on a
# working corpus
# seeded from tests/fuzz/corpus/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz BIN=bin-fuzz CC=clang CFLAGS="-O1 -g" \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz-run

fuzz-run: $(FUZZ_BIN)
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/proxy-gen/pgen.o $(BUILD)/libklangk.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iproxy-gen -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LDLIBS)

# What CI runs: the whole suite on both engines, then the unit tests built
# with ASan/UBSan and under valgrind. The full e2e suite under ASan
# (make asan) and fuzzing (make fuzz) are run by hand: together they would
# take CI well past its ~20 minute budget.
ci:
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory asan-unit
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory tsan

# ThreadSanitizer, in its own build and bin directories: the unit tests, and
# the e2e tests of TSAN_E2E (chosen because they drive the daemons' threads:
# start, reconcile bursts, engine events, reloads, SIGTERM and fatal threads)
# with the instrumented daemons.  Every report of every process fails the run
# (tests/tsan.sh); tests/tsan.supp says why each suppression is there.
TSAN_E2E ?= test_daemon_lifecycle test_controller_drift test_proxy_reload
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan BIN=bin-tsan CFLAGS="-O1 -g" \
		SAN="-fsanitize=thread -fno-omit-frame-pointer" TSAN_E2E="$(TSAN_E2E)" tsan-run

tsan-run: all $(UNIT_BIN)
	@BIN=$(abspath $(BIN)) bash tests/tsan.sh "$(TSAN_E2E)" $(UNIT_BIN)

asan-unit: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan CFLAGS="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		all unit

run: deps all
	@bash scripts/run.sh

run-down:
	@bash scripts/run.sh down

# The images of the Dockerfile, built from a Debian base that debootstrap
# makes once per machine (no registry needed); skipped when the engine has
# them for this source tree.  docs/operations.md.
images: deps
	@bash scripts/images.sh $(IMAGE_TAG)

PREFIX  ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan build-fuzz build-tsan bin bin-asan bin-fuzz bin-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
