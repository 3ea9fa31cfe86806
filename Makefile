# Carnet: one plain Makefile. `make run` and `make test` do all the set-up on a fresh Debian 12.

CC      ?= cc
PKGS    := libevent libpq libsodium jansson libcurl
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude \
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

# The private database of `make run` (ignored when DATABASE_URL is set).
PGDIR   ?= var/pg
PORT    ?= 8080
PYTHON  ?= /usr/bin/python3

.PHONY: all deps run test unit unit-asan integration integration-asan e2e asan bench clean format

all: build/carnetd

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

build/obj build/asan build/unit build/unit-asan:
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

integration: build/carnetd
	@$(PYTHON) tests/it/run.py --carnetd build/carnetd $(T)

# The same suite against the ASan+UBSan build: any sanitizer report fails the test it ran in.
integration-asan: build/carnetd-asan
	@$(SAN_ENV) $(PYTHON) tests/it/run.py --carnetd build/carnetd-asan --sanitizer $(T)

# The browser journeys alone (also part of `make integration` and so of `make test`).
e2e: deps build/carnetd
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
	exit $$status

asan: deps
	@$(MAKE) --no-print-directory build/carnetd-asan $(UNIT)
	@$(MAKE) --no-print-directory integration-asan

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

format:
	clang-format -i server/*.c include/*.h tests/unit/*.c

clean:
	rm -rf build
