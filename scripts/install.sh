#!/usr/bin/env bash
# `make install`: copies the module as res_phoneprov.so into the module directory of the
# Asterisk on this system (or ASTMODDIR), the sample configuration into /etc/asterisk and
# the sample templates into AST_DATA_DIR/phoneprov (or ASTDATADIR/phoneprov), never
# overwriting a file that is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
module=${1:-$here/target/release/libres_phoneprov.so}
etc=${ASTETCDIR:-/etc/asterisk}

[ -f "$module" ] || { echo "install: $module is missing: run make first" >&2; exit 1; }

# Where this system's Asterisk keeps modules and data: asterisk.conf says, else the usual places.
from_conf() {
    [ -f "$etc/asterisk.conf" ] &&
        sed -n "s/^[[:space:]]*$1[[:space:]]*=>*[[:space:]]*\([^[:space:];]*\).*/\1/p" "$etc/asterisk.conf" | head -n1
}
first_dir() { for d in "$@"; do [ -n "$d" ] && [ -d "$d" ] && { echo "$d"; return; }; done; }
moddir=${ASTMODDIR:-$(first_dir "$(from_conf astmoddir)" /usr/lib/x86_64-linux-gnu/asterisk/modules \
    /usr/lib/asterisk/modules /usr/lib64/asterisk/modules)}
datadir=${ASTDATADIR:-$(first_dir "$(from_conf astdatadir)" /usr/share/asterisk /var/lib/asterisk)}
[ -n "$moddir" ] || { echo "install: no Asterisk module directory found: set ASTMODDIR" >&2; exit 1; }
[ -n "$datadir" ] || { echo "install: no Asterisk data directory found: set ASTDATADIR" >&2; exit 1; }

install -D -m 0755 "$module" "$moddir/res_phoneprov.so"
echo "install: $moddir/res_phoneprov.so"

copy_absent() { # SRC DEST
    if [ -e "$2" ]; then
        echo "install: kept existing $2"
    else
        install -D -m 0644 "$1" "$2"
        echo "install: $2"
    fi
}
for f in phoneprov.conf phoneprov_users.conf; do
    copy_absent "$here/asterisk-conf/$f" "$etc/$f"
done
(cd "$here/asterisk-conf/phoneprov" && find . -type f) | while read -r f; do
    copy_absent "$here/asterisk-conf/phoneprov/$f" "$datadir/phoneprov/${f#./}"
done
echo "install: done; load it with: asterisk -rx 'module load res_phoneprov.so'"
