# The fork's build: CPython 3.11.2 + Debian's security patches (base/debian-patches.txt) + cpython/
# -> build/cpython -> build/obj/fork-<variant>.
#
#   make                 install build deps (as root), assemble, build, show it running
#   make test            fork tests, security fixes, monitoring stress/fuzz, C API out of tree,
#                        coverage.py, legacy tracing clients (tests/clients), CPython's regression
#                        suite, tooling round trip
#   make tree            assemble build/cpython (commits: pristine, base = pristine + Debian patches,
#                        fork = cpython/)
#   make export          write the assembled tree's work back into cpython/
#   make check-exported  fail if the assembled tree holds work cpython/ lacks
#   make review          the whole change as one diff: build/fork.diff
#   make install PREFIX=/opt/py311m
#   make bench / make bench-optimized / make bench-capi (the C API, bench/capi)
#   make stock           the stock reference: the same base without the fork (build/obj/stock-<variant>)
#   make pristine        bare CPython 3.11.2, without Debian's patches (build/obj/pristine-<variant>)
#
# Variant switches (combine freely): SHARED=1 (libpython3.11.so), OPTIMIZED=1 (PGO+LTO),
# DEBUG=1 (--with-pydebug), ASAN=1 (AddressSanitizer + LeakSanitizer), UBSAN=1
# (UndefinedBehaviorSanitizer).  The stock reference is always built with the same switches.
#   make fuzz [SEED=n] [ITERATIONS=n] [DURATION=seconds]   long run of the fuzzer (tests/fuzz)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PREFIX ?= /usr/local
export PREFIX

VARIANT := $(subst $(eval) ,-,$(strip $(if $(SHARED),shared) $(if $(OPTIMIZED),optimized) $(if $(DEBUG),debug) $(if $(ASAN),asan) $(if $(UBSAN),ubsan)))
ifeq ($(VARIANT),)
VARIANT := default
endif
OBJ := build/obj/fork-$(VARIANT)
PYTHON := $(OBJ)/python

.PHONY: all deps tree export check-exported review build stock pristine show test test-fork \
        test-security test-capi test-clients test-regrtest test-roundtrip test-stress fuzz install bench bench-capi \
        bench-optimized clean distclean

all: build show

deps:
	@tools/deps.sh

tree:
	@tools/forktree.py tree $(if $(FORCE),--force)

export:
	@tools/forktree.py export

check-exported:
	@tools/forktree.py check-exported

review: tree
	@tools/forktree.py review

build: deps tree
	@tools/build.sh fork $(VARIANT) >/dev/null

stock: deps
	@tools/build.sh stock $(VARIANT) >/dev/null

pristine: deps
	@tools/build.sh pristine $(VARIANT) >/dev/null

show: build
	@echo "== $(PYTHON)"
	@$(PYTHON) -c 'import sys, sysconfig; print(sys.version); print("cache_tag:", sys.implementation.cache_tag, " SOABI:", sysconfig.get_config_var("SOABI"))'
	@$(PYTHON) -c 'import ssl, ctypes, zlib, bz2, lzma, sqlite3, readline, curses, dbm.gnu, uuid, decimal; print("stdlib extension modules: ok;", ssl.OPENSSL_VERSION)'
	@$(PYTHON) tools/show-trace.py

test: build
	@tools/run-tests.sh $(VARIANT)

test-fork: build
	@tools/run-tests.sh $(VARIANT) fork

test-capi: build
	@tools/run-tests.sh $(VARIANT) capi

test-security: build
	@tools/run-tests.sh $(VARIANT) security

test-clients: build
	@tools/run-tests.sh $(VARIANT) clients

test-regrtest: build
	@tools/run-tests.sh $(VARIANT) regrtest

test-roundtrip:
	@tools/run-tests.sh $(VARIANT) roundtrip

test-stress: build
	@tools/run-tests.sh $(VARIANT) stress

# The long fuzz run: SEED (master seed), ITERATIONS (programs), DURATION (seconds, 0 = no limit).
SEED ?= $(shell date +%s)
ITERATIONS ?= 100000
DURATION ?= 1800
fuzz: build
	@python3 tests/fuzz/fuzz.py --python $(PYTHON) --seed $(SEED) --iterations $(ITERATIONS) \
	    --duration $(DURATION) --out build/test/fuzz-long

install: build
	$(MAKE) -C $(OBJ) install

bench:
	@tools/deps.sh --bench
	@bench/run.sh default

bench-capi: build
	@bench/capi/run.sh

bench-optimized:
	@tools/deps.sh --bench
	@bench/run.sh optimized

clean:
	rm -rf build/obj build/bench

distclean:
	rm -rf build
