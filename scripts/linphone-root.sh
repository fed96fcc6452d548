#!/usr/bin/env bash
# Creates, once, the Debian trixie root that holds a real Linphone client (`linphone-cli`,
# liblinphone 5.3) for the integration suite (tests/linphone.rs). linphone-cli is packaged for
# trixie but not for unstable, so it cannot live in the Asterisk sandbox: it gets its own root.
#
#   scripts/linphone-root.sh          create it if missing (idempotent), then print where it is
#   scripts/linphone-root.sh --force  throw the old one away and create it again
#
# The folder is PHONEPROV_LINPHONE_ROOT, by default .sandbox/linphone in the project
# (git-ignored with the rest of .sandbox/). Tests chroot into it and run linphonecsh there.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
sandbox=${PHONEPROV_SANDBOX:-$here/.sandbox}
base=${PHONEPROV_LINPHONE_ROOT:-$sandbox/linphone}
root=$base/root
stamp=$base/.complete
suite=${PHONEPROV_LINPHONE_SUITE:-trixie}

say() { printf 'linphone-root: %s\n' "$*"; }

need_host_packages() {
    command -v mmdebstrap >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ]; then
        say "missing host package: mmdebstrap (run as root, or install it)"
        exit 1
    fi
    say "installing host package: mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}

if [ "${1:-}" = "--force" ]; then
    say "removing $base"
    rm -rf "$base"
fi

if [ -f "$stamp" ] && [ -x "$root/usr/bin/linphonecsh" ] && [ -x "$root/usr/bin/linphonec" ]; then
    say "ready at $root ($(cat "$stamp"))"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "creating the Linphone root needs root (mmdebstrap, and chroot to run linphonecsh)"
    exit 1
fi

need_host_packages

say "creating a Debian $suite root with linphone-cli in $root (a minute or two)"
rm -rf "$root" "$root.partial"
mkdir -p "$base"
start=$(date +%s)
# Same convention as scripts/sandbox.sh: a mirror's Release file can look expired, so do not
# check Valid-Until. Recommends stay off: the daemon needs no sound server or GUI pieces.
mmdebstrap --variant=apt \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=linphone-cli \
    "$suite" "$root.partial" >"$base/mmdebstrap.log" 2>&1 || {
    say "mmdebstrap failed; its log follows"
    tail -n 40 "$base/mmdebstrap.log"
    exit 1
}
mv "$root.partial" "$root"

version=$(chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' linphone-cli liblinphone12 \
    2>/dev/null | paste -sd, - || echo "linphone-cli")
echo "$version" >"$stamp"
say "ready at $root ($version) in $(($(date +%s) - start)) s"
