#!/usr/bin/env bash
# The TFTP programs the tests and the bench run: the clients of tftp-hpa (`tftp`) and atftp
# (`atftp`), and tftpd-hpa's server (`in.tftpd`, which the bench starts by itself on a
# loopback port to compare with). Installed with apt when missing; the server package's own
# service is kept from starting (policy-rc.d), since nothing here uses it.
set -euo pipefail

say() { printf 'tftp-tools: %s\n' "$*"; }

missing=()
command -v tftp >/dev/null 2>&1 || missing+=(tftp-hpa)
command -v atftp >/dev/null 2>&1 || missing+=(atftp)
[ -x /usr/sbin/in.tftpd ] || missing+=(tftpd-hpa)

if [ ${#missing[@]} -eq 0 ]; then
    say "ready"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "missing: ${missing[*]} (run as root, or apt-get install them)"
    exit 1
fi
say "installing: ${missing[*]}"
policy=/usr/sbin/policy-rc.d
added=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    added=1
fi
status=0
apt-get update -qq || status=$?
if [ $status -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || status=$?
fi
[ -n "$added" ] && rm -f "$policy"
# Where a service manager started it anyway, it would hold port 69.
if [ -x /usr/sbin/in.tftpd ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now tftpd-hpa >/dev/null 2>&1 || true
fi
[ $status -eq 0 ] || { say "apt-get failed"; exit 1; }
say "ready"
