#!/usr/bin/env bash
# Creates, once, the Asterisk sandbox this project builds and tests against: a Debian unstable
# root made with mmdebstrap holding the `asterisk` and `asterisk-dev` packages.
#
#   scripts/sandbox.sh          create it if missing (idempotent), then print where it is
#   scripts/sandbox.sh --force  throw the old one away and create it again
#
# The folder is PHONEPROV_SANDBOX, by default .sandbox/ in the project (git-ignored):
#   .sandbox/root/       the Debian unstable root (Asterisk runs there under chroot)
#   .sandbox/include/    only asterisk.h and asterisk/, for bindgen and cc
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
sandbox=${PHONEPROV_SANDBOX:-$here/.sandbox}
root=$sandbox/root
stamp=$sandbox/.complete
suite=${PHONEPROV_SUITE:-unstable}

say() { printf 'sandbox: %s\n' "$*"; }

# Host tools: mmdebstrap builds the root, libclang-dev is what bindgen loads.
need_host_packages() {
    local missing=()
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    # libclang-cpp (pulled in by other packages) is not what bindgen loads: look for libclang.so.
    ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* >/dev/null 2>&1 \
        || missing+=(libclang-dev)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v make >/dev/null 2>&1 || missing+=(make)
    # The tests read listening sockets' backlogs with ss.
    command -v ss >/dev/null 2>&1 || missing+=(iproute2)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            say "missing host packages: ${missing[*]} (run as root, or install them)"
            exit 1
        fi
        say "installing host packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

if [ "${1:-}" = "--force" ]; then
    say "removing $sandbox"
    rm -rf "$sandbox"
fi

need_host_packages

if [ -f "$stamp" ] && [ -x "$root/usr/sbin/asterisk" ] && [ -f "$root/usr/include/asterisk.h" ]; then
    say "ready at $root ($(cat "$stamp"))"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "creating the sandbox needs root (mmdebstrap, and chroot to run Asterisk)"
    exit 1
fi

say "creating a Debian $suite root with asterisk and asterisk-dev in $root (about a minute)"
rm -rf "$root" "$root.partial"
mkdir -p "$sandbox"
start=$(date +%s)
# The unstable Release file can look expired on a mirror: do not check Valid-Until.
mmdebstrap --variant=apt \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=asterisk,asterisk-dev \
    "$suite" "$root.partial" >"$sandbox/mmdebstrap.log" 2>&1 || {
    say "mmdebstrap failed; its log follows"
    tail -n 40 "$sandbox/mmdebstrap.log"
    exit 1
}
mv "$root.partial" "$root"

# Only asterisk.h and asterisk/ for the compilers: the whole sandbox /usr/include would mix two
# glibc versions into the host build.
rm -rf "$sandbox/include"
mkdir -p "$sandbox/include"
ln -s ../root/usr/include/asterisk.h "$sandbox/include/asterisk.h"
ln -s ../root/usr/include/asterisk "$sandbox/include/asterisk"

version=$(chroot "$root" /usr/sbin/asterisk -V)
echo "$version" >"$stamp"
say "ready at $root ($version) in $(($(date +%s) - start)) s"
