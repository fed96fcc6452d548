#!/usr/bin/env bash
# Makes sure this host has Debian's fail2ban for tests/fail2ban.rs, which runs its own
# fail2ban-server in the foreground (socket, pid file and database in a temporary directory)
# with the shipped filter and jail against the security.log of a test's Asterisk.
# Installs the package with apt when it is missing; the tests never use the system's service.
set -euo pipefail

say() { printf 'fail2ban: %s\n' "$*"; }

ready() {
    command -v fail2ban-server >/dev/null 2>&1 && command -v fail2ban-client >/dev/null 2>&1
}

if ready; then
    say "ready: $(fail2ban-server --version 2>&1 | head -n 1)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "fail2ban is not installed: run as root, or apt-get install fail2ban"
    exit 1
fi

say "installing the host package: fail2ban"
apt-get update -qq
# Where a service manager runs, the package may also start the system's own fail2ban service;
# the tests do not use it: each starts a private server.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fail2ban >/dev/null
ready || { say "fail2ban installed, but no fail2ban-server / fail2ban-client"; exit 1; }
say "ready: $(fail2ban-server --version 2>&1 | head -n 1)"
