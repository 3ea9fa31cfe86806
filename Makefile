# Carnet: one plain Makefile. `make run` and `make test` do all the set-up on a fresh Debian 12.

CC      ?= cc
PKGS    := libevent libpq libsodium jansson libcurl
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude -Ibuild/gen \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -levent_pthreads -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# How the sanitizer build runs under test: leaks checked at exit, the first report is fatal.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

SRCS    := $(wildcard server/*.c)
OBJS    := $(SRCS:server/%.c=build/obj/%.o)
AOBJS   := $(SRCS:server/%.c=build/asan/%.o)
LIBOBJS := $(filter-out build/obj/main.o,$(OBJS))
UNIT    := $(patsubst tests/unit/%.c,build/unit/%,$(wildcard tests/unit/test_*.c))
AUNIT   := $(patsubst tests/unit/%.c,build/unit-asan/%,$(wildcard tests/unit/test_*.c))
ALIBOBJS := $(filter-out build/asan/main.o,$(AOBJS))

# Fuzzing (tests/fuzz): libFuzzer harnesses built with clang into build/fuzz/, then the HTTP
# fuzzer against build/carnetd-asan. FUZZ_SECONDS is each one's run time.
FUZZ_CC      := clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -O2,$(CFLAGS)) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_SECONDS ?= 60
FUZZ_ENV     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_OBJS    := $(filter-out build/fuzz/obj/main.o,$(SRCS:server/%.c=build/fuzz/obj/%.o))
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# The private database of `make run` (ignored when DATABASE_URL is set).
PGDIR   ?= var/pg
PORT    ?= 8080
PYTHON  ?= /usr/bin/python3

.PHONY: all web-gz deps run test unit unit-asan integration integration-asan e2e asan bench clean \
        format fuzz fuzz-build fuzz-regress fuzz-smoke cluster cluster-stop test-cluster

all: build/carnetd web-gz

deps:
	@.tools/deps.sh

build/obj/%.o: server/%.c $(wildcard include/*.h) | build/obj
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

build/asan/%.o: server/%.c $(wildcard include/*.h) | build/asan
	@echo "  CC+SAN  $<"
	@$(CC) $(CFLAGS) $(ASAN) -O1 -c -o $@ $<

build/carnetd: $(OBJS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/carnetd-asan: $(AOBJS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(ASAN) -o $@ $^ $(LDLIBS)

build/unit/%: tests/unit/%.c $(LIBOBJS) | build/unit
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -o $@ $< $(LIBOBJS) $(CHECK_LIBS) $(LDLIBS)

build/unit-asan/%: tests/unit/%.c $(ALIBOBJS) | build/unit-asan
	@echo "  CC+SAN  $<"
	@$(CC) $(CFLAGS) $(ASAN) -o $@ $< $(ALIBOBJS) $(CHECK_LIBS) $(LDLIBS)

build/fuzz/obj/%.o: server/%.c $(wildcard include/*.h) | build/fuzz/obj
	@echo "  CC+FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	@echo "  FUZZ    $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

# The text files of web/ compressed once here rather than per request (server/static.c sends
# them to clients that accept gzip): gzip -9 -n, so the same page always gives the same bytes.
WEB_TEXT := $(shell find web -type f \( -name '*.html' -o -name '*.js' -o -name '*.mjs' \
              -o -name '*.css' -o -name '*.json' -o -name '*.svg' -o -name '*.txt' \
              -o -name '*.webmanifest' -o -name '*.ics' \) -not -path '*/.*')
WEB_GZ   := $(WEB_TEXT:web/%=build/web-gz/%.gz)

web-gz: $(WEB_GZ)

build/web-gz/%.gz: web/%
	@mkdir -p $(@D)
	@gzip -9 -n -c $< >$@.tmp && mv $@.tmp $@

# Every query the serving connections send, compiled into migrate.c: the functions the serving
# role may execute (schema/api/privileges.sql). migrate.c's own queries run as the owner.
build/gen/sql_calls.h: $(filter-out server/migrate.c,$(SRCS)) .tools/sql_calls.py | build/gen
	@echo "  GEN     $@"
	@$(PYTHON) .tools/sql_calls.py $(filter-out server/migrate.c,$(SRCS)) >$@.tmp && mv $@.tmp $@

build/obj/migrate.o build/asan/migrate.o build/fuzz/obj/migrate.o: build/gen/sql_calls.h

build/obj build/asan build/unit build/unit-asan build/fuzz/obj build/gen:
	@mkdir -p $@

run: deps
	@$(MAKE) --no-print-directory all
	@.tools/run.sh "$(PGDIR)" "$(PORT)"

unit: $(UNIT)
	@for t in $(UNIT); do CK_VERBOSITY=normal $$t || exit 1; done

# The unit tests again under ASan+UBSan: a use after free in the request's life fails here.
unit-asan: $(AUNIT)
	@for t in $(AUNIT); do ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 CK_FORK=no CK_VERBOSITY=normal $$t || exit 1; done

integration: build/carnetd web-gz
	@$(PYTHON) tests/it/run.py --carnetd build/carnetd $(T)

# The same suite against the ASan+UBSan build: any sanitizer report fails the test it ran in.
integration-asan: build/carnetd-asan web-gz
	@$(SAN_ENV) $(PYTHON) tests/it/run.py --carnetd build/carnetd-asan --sanitizer $(T)

# The browser journeys alone (also part of `make integration` and so of `make test`).
e2e: deps build/carnetd web-gz
	@$(PYTHON) tests/it/run.py --carnetd build/carnetd test_e2e

# Unit tests, then the integration suite twice: plain, then against the ASan+UBSan build.
# Both suites run even when the first fails, so one CI run reports both; any failure fails.
test: deps
	@$(MAKE) --no-print-directory all build/carnetd-asan $(UNIT)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@status=0; \
	echo "== integration (build/carnetd)"; \
	$(MAKE) --no-print-directory integration || status=1; \
	echo "== integration (build/carnetd-asan)"; \
	$(MAKE) --no-print-directory integration-asan || status=1; \
	echo "== fuzzing ($(FUZZ_SECONDS) s each)"; \
	$(MAKE) --no-print-directory fuzz-smoke || status=1; \
	echo "== cluster (failover, switchover, rolling restart, SSE)"; \
	$(MAKE) --no-print-directory test-cluster || status=1; \
	exit $$status

# `make cluster`: etcd, two PostgreSQL under Patroni, HAProxy and two carnetd in var/cluster/, in
# the background (README, "Running a cluster"); `make cluster-stop` ends them all.
cluster: deps
	@$(MAKE) --no-print-directory all
	@.tools/cluster.sh start var/cluster

cluster-stop:
	@.tools/cluster.sh stop var/cluster

# Failover, switchover, rolling restart and SSE on a cluster of its own (tests/cluster/run.py).
test-cluster: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/cluster/run.py --carnetd build/carnetd $(T)

asan: deps
	@$(MAKE) --no-print-directory build/carnetd-asan $(UNIT)
	@$(MAKE) --no-print-directory integration-asan

.SECONDARY: $(FUZZ_OBJS)

fuzz-build: $(FUZZ_BINS) build/carnetd-asan

# Every saved crash input, replayed once by its harness: a fixed bug stays fixed.
fuzz-regress: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		files=$$(find tests/fuzz/regress/$$n -type f 2>/dev/null | sort); \
		[ -z "$$files" ] && continue; \
		echo "  REGRESS $$n"; \
		$(FUZZ_ENV) build/fuzz/fuzz_$$n $$files >build/fuzz/regress-$$n.log 2>&1 || \
			{ tail -40 build/fuzz/regress-$$n.log; echo "fuzz-regress: $$n failed"; exit 1; }; \
	done

# The saved crash inputs again, then each harness for FUZZ_SECONDS from its seed corpus, two at a
# time, and the HTTP fuzzer for FUZZ_SECONDS (findings in tests/fuzz/findings/): tests/fuzz/run.sh.
# Every step runs; the target fails at the end if any found something.
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@fail=0; \
	$(MAKE) --no-print-directory fuzz-regress || fail=1; \
	PYTHON=$(PYTHON) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_NAMES) || fail=1; \
	exit $$fail

# What `make test` runs: every harness and the HTTP fuzzer for 60 s each.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=60

bench: deps
	@$(MAKE) --no-print-directory all build/bench/loadgen
	@tests/bench/run.sh

# The benchmark's load generator (libevent only: thousands of streams in one loop).
build/bench/loadgen: tests/bench/loadgen.c
	@mkdir -p build/bench
	@echo "  CC      $<"
	@$(CC) $(filter-out -Iinclude -Ibuild/gen,$(CFLAGS)) -o $@ $< $(shell pkg-config --libs libevent)

format:
	clang-format -i server/*.c include/*.h tests/unit/*.c tests/fuzz/*.c tests/fuzz/*.h

clean:
	rm -rf build
