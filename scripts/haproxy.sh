#!/usr/bin/env bash
# Makes sure this host has HAProxy for tests/balancer.rs (two nodes behind a real load
# balancer): Debian's `haproxy` package, installed with apt when missing. Prints its version.
#
# The tests never use the system's service: each one writes its own haproxy.cfg and runs the
# program in the foreground on free loopback ports, and stops it afterwards.
set -euo pipefail

say() { printf 'haproxy: %s\n' "$*"; }

if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
    say "ready: $(/usr/sbin/haproxy -v 2>/dev/null | head -n 1)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "HAProxy is not installed: run as root, or apt-get install haproxy"
    exit 1
fi

say "installing the host package: haproxy"
apt-get update -qq
# The package enables its own service where a service manager runs; the tests do not use it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
[ -x /usr/sbin/haproxy ] || { say "haproxy installed, but no /usr/sbin/haproxy"; exit 1; }
say "ready: $(/usr/sbin/haproxy -v | head -n 1)"
