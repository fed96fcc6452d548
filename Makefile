# res_phoneprov in Rust. `make help` lists the targets.

CARGO ?= cargo
MODULE := target/release/libres_phoneprov.so

.PHONY: all build sandbox-build sandbox linphone-root linphone-root-for-tests postgres tftp-tools fail2ban haproxy test unit integration lint run install uninstall deb clean help soak fuzz bench bench-scale

all: build

help:
	@echo "make            build $(MODULE) (with asterisk-dev's headers when installed; SANDBOX=1: the sandbox's)"
	@echo "make run        build, create the sandbox if needed, run Asterisk with asterisk-conf/"
	@echo "make test       everything: sandbox, build, lint, unit and integration tests"
	@echo "make install    install into the Asterisk of this system (ASTMODDIR=... to choose)"
	@echo "make uninstall  remove it again (says what changes and asks; FORCE=1 to not ask)"
	@echo "make deb        target/asterisk-res-phoneprov-rs_<version>_amd64.deb for the Asterisk built against"
	@echo "make sandbox    create the Debian unstable root with asterisk and asterisk-dev"
	@echo "make linphone-root  create the Debian trixie root with linphone-cli (tests/linphone.rs)"
	@echo "make postgres   install the PostgreSQL server the realtime tests start (apt, if missing)"
	@echo "make fail2ban   install the fail2ban tests/fail2ban.rs runs (apt, if missing)"
	@echo "make haproxy    install the HAProxy the balancer test runs (apt, if missing)"
	@echo "make bench      the stock module and ours side by side with wrk; writes BENCHMARKS.md"
	@echo "make bench-scale  dynamic lookup mode, 1,000,000 phones in PostgreSQL; writes BENCHMARKS.md"
	@echo "make soak       minutes of load, reloads and unload/load cycles (SOAK_SECONDS=300)"
	@echo "make fuzz       every fuzz target for FUZZ_SECONDS each (default 60)"

sandbox:
	@scripts/sandbox.sh

# A real Linphone client for tests/linphone.rs: linphone-cli is in trixie, not in the sandbox's
# unstable, so it has a root of its own.
linphone-root:
	@scripts/linphone-root.sh

# For the test targets: a root that cannot be made (no mirror reachable) must not stop the other
# tests; tests/linphone.rs then skips and says why.
linphone-root-for-tests:
	@scripts/linphone-root.sh || echo "linphone-root: not created (see above); tests/linphone.rs will skip"

# The PostgreSQL server programs for the realtime tests (tests/common/postgres.rs starts a
# private server per test); installed with apt when missing.
postgres:
	@scripts/postgres.sh

# The TFTP clients tests/tftp.rs runs (tftp-hpa, atftp) and the tftpd-hpa the bench compares
# with; installed with apt when missing.
tftp-tools:
	@scripts/tftp-tools.sh

# Debian's fail2ban for tests/fail2ban.rs, which runs a private fail2ban-server with the
# shipped filter and jail against a test Asterisk's security.log; installed with apt when missing.
fail2ban:
	@scripts/fail2ban.sh

# HAProxy for tests/balancer.rs (two nodes behind a real load balancer); installed with apt
# when missing.
haproxy:
	@scripts/haproxy.sh

SANDBOX_DIR := $(if $(PHONEPROV_SANDBOX),$(PHONEPROV_SANDBOX),$(CURDIR)/.sandbox)
INSTALLED_HEADERS := $(wildcard /usr/include/asterisk.h)
# Which Asterisk headers `make`, `make install` and `make deb` build with: ASTERISK_INCLUDE_DIR
# when set; else the installed ones (asterisk-dev), so that the module matches the Asterisk it
# will run in; else the sandbox's, made when missing. SANDBOX=1 picks the sandbox.
ifneq ($(ASTERISK_INCLUDE_DIR),)
HEADERS := $(ASTERISK_INCLUDE_DIR)
else ifneq ($(and $(INSTALLED_HEADERS),$(filter-out 1,$(SANDBOX))),)
HEADERS := /usr/include
else
HEADERS := $(SANDBOX_DIR)/include
NEEDS_SANDBOX := sandbox
endif

build: $(NEEDS_SANDBOX)
	@echo "build: Asterisk headers from $(HEADERS)"
	ASTERISK_INCLUDE_DIR=$(HEADERS) $(CARGO) build --release

# The tests, benchmarks and `make run` start the sandbox's Asterisk: the module they load is
# built with its headers, whatever else is installed.
sandbox-build: sandbox
	ASTERISK_INCLUDE_DIR=$(SANDBOX_DIR)/include $(CARGO) build --release

lint: sandbox
	$(CARGO) fmt --all -- --check
	ASTERISK_INCLUDE_DIR=$(SANDBOX_DIR)/include $(CARGO) clippy --workspace --release --all-targets -- -D warnings

UNIT_TESTS := $(CARGO) test --no-fail-fast -p phoneprov-core
INTEGRATION_TESTS := ASTERISK_INCLUDE_DIR=$(SANDBOX_DIR)/include $(CARGO) test --release --no-fail-fast --test '*' -- --test-threads=2

# scripts/test-summary.sh ends the output with one line summing every test binary's result;
# --no-fail-fast, or cargo stops at the first failing binary and the sum covers part of the run.
unit:
	@scripts/test-summary.sh "$(UNIT_TESTS)"

integration: sandbox-build linphone-root-for-tests postgres tftp-tools fail2ban haproxy
	@scripts/test-summary.sh "$(INTEGRATION_TESTS)"

test: sandbox-build lint linphone-root-for-tests postgres tftp-tools fail2ban haproxy
	@scripts/test-summary.sh "$(UNIT_TESTS)" "$(INTEGRATION_TESTS)"

# The stock C module and ours side by side; writes BENCHMARKS.md. Needs wrk.
bench: sandbox-build tftp-tools
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(CARGO) bench --bench compare

# Dynamic lookup mode with 1,000,000 phones in PostgreSQL against 100,000 in memory; writes
# its section of BENCHMARKS.md.
bench-scale: sandbox-build postgres
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(CARGO) bench --bench scale

# Minutes-long stress (SOAK_SECONDS, default 300), then the stock module's failures.
soak: sandbox-build
	$(CARGO) test --release --test soak --test reliability -- --ignored --nocapture --test-threads=1

# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
# New inputs go to fuzz/target/corpus (ignored); fuzz/corpus holds the committed seeds.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := config setvar args uri etag httpdate authorization upload head inotify
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/target/corpus/$$t; \
		(cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t target/corpus/$$t corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS)) || exit 1; \
	done

run: sandbox-build
	@scripts/run.sh

install:
	@scripts/install.sh $(MODULE)

# Prints what the stock module will do differently and asks first; FORCE=1 does not ask.
uninstall:
	@FORCE=$(FORCE) scripts/install.sh --uninstall

deb: build
	@ASTERISK_INCLUDE_DIR=$(HEADERS) scripts/deb.sh $(MODULE)

clean:
	$(CARGO) clean
