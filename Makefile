# Ferry: plain GNU make, pkg-config for every library.
#   make          release build: build/ferry
#   make check    dependencies, test build (ASan/UBSan), unit + integration tests
#   make run      dependencies, build, then `ferry serve` on embedded defaults
#   make bench    benchmarks against peers (not part of check)
#   make fuzz     libFuzzer harnesses, FUZZ_SECONDS each

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZ_SECONDS ?= 60

PKGS     := libssh libcurl openssl libxcrypt expat zlib libpq
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -fstack-protector-strong
REL_FLAGS := -O2 -D_FORTIFY_SOURCE=2
DBG_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all
HARDEN_LD := -pie -Wl,-z,relro -Wl,-z,now

SRC_DIRS := gateway ftp sftp webdav integrity
SRCS     := $(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_SRCS := $(filter-out gateway/main.c,$(SRCS))
HDRS     := $(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.h)))

UNIT_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_NAMES := $(foreach f,$(UNIT_SRCS),$(notdir $(patsubst %/,%,$(dir $(f))))_$(patsubst test_%.c,%,$(notdir $(f))))
RUNNER_SRCS := tests/unit/runner.c tests/unit/testutil.c tests/integration/suite.c $(UNIT_SRCS)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

REL_OBJS := $(patsubst %.c,$(BUILD)/rel/%.o,$(SRCS))
DBG_OBJS := $(patsubst %.c,$(BUILD)/dbg/%.o,$(SRCS))
DBG_LIB_OBJS := $(patsubst %.c,$(BUILD)/dbg/%.o,$(LIB_SRCS))
RUNNER_OBJS := $(patsubst %.c,$(BUILD)/dbg/%.o,$(RUNNER_SRCS))

.PHONY: all deps deps-test build check unit run bench fuzz install uninstall clean format

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@sh mk/deps.sh build

deps-test:
	@sh mk/deps.sh build test

build: $(BUILD)/ferry

$(BUILD)/ferry: $(REL_OBJS)
	$(CC) $(WARN) $(REL_FLAGS) $(HARDEN_LD) -o $@ $^ $(PKG_LIBS)

$(BUILD)/rel/%.o: %.c $(HDRS) | $(BUILD)/stamp
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(REL_FLAGS) -fPIE -I. $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/dbg/%.o: %.c $(HDRS) $(BUILD)/dbg/suites.inc | $(BUILD)/stamp
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DBG_FLAGS) -fPIE -I. -I$(BUILD)/dbg $(PKG_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(BUILD)/stamp:
	@mkdir -p $(BUILD)
	@touch $@

# The unit runner registers one Check suite per test file: tests/unit/DIR/test_FILE.c
# defines `Suite *DIR_FILE_suite(void)`.
$(BUILD)/dbg/suites.inc: FORCE | $(BUILD)/stamp
	@mkdir -p $(dir $@)
	@printf '%s\n' $(foreach n,$(UNIT_NAMES),'FERRY_SUITE($(n))') > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/dbg/ferry: $(DBG_OBJS)
	$(CC) $(WARN) $(DBG_FLAGS) $(HARDEN_LD) -o $@ $^ $(PKG_LIBS)

$(BUILD)/dbg/runner: $(RUNNER_OBJS) $(DBG_LIB_OBJS)
	$(CC) $(WARN) $(DBG_FLAGS) $(HARDEN_LD) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

# One Check run holds every unit suite plus the integration suite (which drives
# build/dbg/ferry with real clients), so the last line is Check's own summary.
check: deps-test
	@$(MAKE) --no-print-directory $(BUILD)/dbg/ferry $(BUILD)/dbg/runner
	@FERRY_BIN=$(abspath $(BUILD)/dbg/ferry) FERRY_SRC=$(CURDIR) \
	  FERRY_TEST_TMP=$(abspath $(BUILD)/tmp) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(BUILD)/dbg/runner

# Unit suites only (quick edit-compile-test loop); CK_RUN_SUITE=NAME narrows it.
unit: deps
	@$(MAKE) --no-print-directory $(BUILD)/dbg/runner
	@FERRY_SKIP_INTEGRATION=1 FERRY_SRC=$(CURDIR) $(BUILD)/dbg/runner

run: all
	$(BUILD)/ferry serve

bench: deps
	@sh mk/deps.sh build test bench
	@$(MAKE) --no-print-directory build
	@sh bench/run.sh $(abspath $(BUILD)/ferry)

fuzz:
	@sh mk/deps.sh build fuzz
	@sh tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/ferry \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/ferry
	install -m 0755 $(BUILD)/ferry $(DESTDIR)$(PREFIX)/bin/ferry
	install -m 0644 doc/ferry.1 $(DESTDIR)$(PREFIX)/share/man/man1/ferry.1
	install -m 0644 doc/ferry.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/ferry.conf.5
	install -m 0644 doc/ferry.conf.example $(DESTDIR)$(PREFIX)/share/doc/ferry/ferry.conf.example
	sed -e 's|/usr/bin/ferry|$(PREFIX)/bin/ferry|g' -e 's|/etc/ferry/|$(SYSCONFDIR)/ferry/|g' \
	  dist/ferry.service > $(DESTDIR)$(UNITDIR)/ferry.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ferry.service
	@# The configuration is the administrator's: never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/ferry/ferry.conf ] || \
	  install -m 0644 dist/ferry.conf $(DESTDIR)$(SYSCONFDIR)/ferry/ferry.conf
	if [ -f doc/logrotate.ferry ]; then \
	  install -d $(DESTDIR)$(SYSCONFDIR)/logrotate.d && \
	  install -m 0644 doc/logrotate.ferry $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ferry; fi

# Removes what install put there; configuration files only when unchanged.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ferry $(DESTDIR)$(PREFIX)/share/man/man1/ferry.1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5/ferry.conf.5 $(DESTDIR)$(UNITDIR)/ferry.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/ferry
	! cmp -s dist/ferry.conf $(DESTDIR)$(SYSCONFDIR)/ferry/ferry.conf || \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/ferry/ferry.conf
	! cmp -s doc/logrotate.ferry $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ferry || \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ferry
	rmdir $(DESTDIR)$(SYSCONFDIR)/ferry 2>/dev/null || true

format:
	clang-format -i $(SRCS) $(HDRS) $(UNIT_SRCS)

clean:
	rm -rf $(BUILD)
FORCE:

# ---- Packaging (install locations above; `make deb` below). ----
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system

# Debian package: builds ../ferry_*.deb with dpkg-buildpackage, installs it, runs
# `ferry serve` as the ferry user and logs in, then purges it (slow; needs root).
.PHONY: deb
deb:
	@sh tests/deb/build_and_install.sh

# Reliability campaign (issue 11), not part of check: every tests/reliability/r_*.sh
# (confinement matrix, crash and fault injection, load) against the debug binary.
# RELIABILITY="confinement faults" narrows the run.
.PHONY: reliability
reliability: deps-test
	@$(MAKE) --no-print-directory $(BUILD)/dbg/ferry
	@sh tests/reliability/run.sh $(abspath $(BUILD)/dbg/ferry) $(abspath $(BUILD)/tmp) $(RELIABILITY)

# Scale-out tests alone (make check runs them too, after the integration scripts):
# tests/cluster/c_*.sh start Debian's HAProxy (TCP mode, send-proxy-v2) in front of two
# nodes sharing one root, and PostgreSQL 15 (initdb + pg_ctl on a loopback port).
# CLUSTER="haproxy" narrows the run.
.PHONY: cluster-test
cluster-test:
	@sh mk/deps.sh build test cluster
	@$(MAKE) --no-print-directory $(BUILD)/dbg/ferry
	@sh tests/cluster/run.sh $(abspath $(BUILD)/dbg/ferry) $(abspath $(BUILD)/tmp) $(CLUSTER)
