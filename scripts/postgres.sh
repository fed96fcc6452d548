#!/usr/bin/env bash
# Makes sure this host can run a private PostgreSQL server for the realtime tests
# (tests/common/postgres.rs): the server programs (initdb, pg_ctl, postgres, psql) of Debian's
# `postgresql` package, and the `postgres` user they run as (the server refuses root).
# Installs the package with apt when they are missing; prints the directory of the programs.
#
# The tests never use a cluster of the system: each one makes its own data directory, starts
# the server on a free loopback port, and removes it all afterwards.
set -euo pipefail

say() { printf 'postgres: %s\n' "$*"; }

# The newest installed major version's programs.
bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] \
        && [ -x "$d/psql" ] && echo "$d"
}

if dir=$(bindir) && id -u postgres >/dev/null 2>&1; then
    say "ready: $dir ($("$dir/postgres" --version))"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "the PostgreSQL server is not installed: run as root, or apt-get install postgresql"
    exit 1
fi

say "installing the host package: postgresql"
apt-get update -qq
# The package makes Debian's default cluster too (and starts it where a service manager runs);
# the tests do not use it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
dir=$(bindir) || { say "postgresql installed, but no server programs under /usr/lib/postgresql"; exit 1; }
id -u postgres >/dev/null 2>&1 || { say "postgresql installed, but no postgres user"; exit 1; }
say "ready: $dir ($("$dir/postgres" --version))"
