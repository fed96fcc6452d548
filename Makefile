# res_phoneprov in Rust. `make help` lists the targets.

CARGO ?= cargo
MODULE := target/release/libres_phoneprov.so

.PHONY: all build sandbox test unit integration lint run install clean help

all: build

help:
	@echo "make            build $(MODULE)"
	@echo "make run        build, create the sandbox if needed, run Asterisk with asterisk-conf/"
	@echo "make test       everything: sandbox, build, lint, unit and integration tests"
	@echo "make install    install into the Asterisk of this system (ASTMODDIR=... to choose)"
	@echo "make sandbox    create the Debian unstable root with asterisk and asterisk-dev"

sandbox:
	@scripts/sandbox.sh

build: sandbox
	$(CARGO) build --release

lint: sandbox
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

unit:
	$(CARGO) test -p phoneprov-core

integration: build
	$(CARGO) test --release --test '*' -- --test-threads=2

test: build lint unit integration

run: build
	@scripts/run.sh

install:
	@scripts/install.sh $(MODULE)

clean:
	$(CARGO) clean
