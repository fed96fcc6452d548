#!/usr/bin/env bash
# `make install`: copies the module as res_phoneprov.so into the module directory of the
# Asterisk on this system (or ASTMODDIR). It never changes what is served: the sample
# configuration and templates go to the documentation directory (DOCDIR, default
# /usr/share/doc/asterisk-res-phoneprov-rs, where the package puts them too), never into
# /etc/asterisk or AST_DATA_DIR/phoneprov. A sample phoneprov_users.conf in /etc/asterisk
# would replace the phones of users.conf, which the module reads only when it is absent.
#
# When a Debian package owns res_phoneprov.so (the stock module), the stock file is first
# diverted to res_phoneprov.so.stock with dpkg-divert, so that the package's next upgrade
# writes its module there instead of over ours. DESTDIR installs below another root (a
# chroot, a staging directory); the diversion is then made in that root's dpkg database, or
# not at all when it has none.
#
# `make uninstall` (--uninstall): first prints what the stock module will do differently
# with this configuration (scripts/rollback-report.sh) and asks to go on, unless FORCE=1;
# then removes our module (only if the file there is ours) and the samples, puts the
# diverted stock module back, and keeps the configuration and templates (they are the
# administrator's); each step is printed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=install
if [ "${1:-}" = --uninstall ]; then
    mode=uninstall
    shift
fi
module=${1:-$here/target/release/libres_phoneprov.so}
root=${DESTDIR:-}
root=${root%/}
etc=${ASTETCDIR:-/etc/asterisk}
doc=${DOCDIR:-/usr/share/doc/asterisk-res-phoneprov-rs}

[ "$mode" = uninstall ] || [ -f "$module" ] ||
    { echo "install: $module is missing: run make first" >&2; exit 1; }

# Where this system's Asterisk keeps modules and data: asterisk.conf says, else the usual places.
from_conf() {
    [ -f "$root$etc/asterisk.conf" ] &&
        sed -n "s/^[[:space:]]*$1[[:space:]]*=>*[[:space:]]*\([^[:space:];]*\).*/\1/p" "$root$etc/asterisk.conf" | head -n1
}
first_dir() { for d in "$@"; do [ -n "$d" ] && [ -d "$root$d" ] && { echo "$d"; return; }; done; }
moddir=${ASTMODDIR:-$(first_dir "$(from_conf astmoddir)" /usr/lib/x86_64-linux-gnu/asterisk/modules \
    /usr/lib/asterisk/modules /usr/lib64/asterisk/modules)}
datadir=${ASTDATADIR:-$(first_dir "$(from_conf astdatadir)" /usr/share/asterisk /var/lib/asterisk)}
[ -n "$moddir" ] || { echo "install: no Asterisk module directory found: set ASTMODDIR" >&2; exit 1; }
[ -n "$datadir" ] || { echo "install: no Asterisk data directory found: set ASTDATADIR" >&2; exit 1; }

target=$moddir/res_phoneprov.so
dpkg_root=()
[ -n "$root" ] && dpkg_root=(--root="$root")
has_dpkg() { [ -f "$root/var/lib/dpkg/status" ] && command -v dpkg-divert >/dev/null; }

if [ "$mode" = uninstall ]; then
    # What going back changes, said before anything is done; a yes from the administrator
    # (or FORCE=1) to go on.
    stock=$root$target.stock
    has_dpkg || stock=
    report=$(sh "$here/scripts/rollback-report.sh" "$root$etc" "$stock" "$root$datadir/phoneprov")
    if [ -n "$report" ]; then
        echo "$report"
        if [ "${FORCE:-0}" != 1 ]; then
            if [ -t 0 ]; then
                printf 'uninstall: go back to the stock module all the same? [y/N] '
                read -r answer
            else
                answer=
                echo "uninstall: not confirmed (no terminal to ask on): run again with FORCE=1" >&2
            fi
            case $answer in
                y|Y|yes|YES) ;;
                *) echo "uninstall: nothing was changed" >&2; exit 1 ;;
            esac
        fi
    fi
    if [ -f "$root$target" ] && grep -q 'HTTP Phone Provisioning (Rust' "$root$target"; then
        rm -f "$root$target"
        echo "uninstall: removed $root$target"
    elif [ -e "$root$target" ]; then
        echo "uninstall: $root$target is not this module: left alone"
    fi
    if has_dpkg && [ ! -e "$root$target" ] &&
        [ "$(dpkg-divert "${dpkg_root[@]}" --listpackage "$target")" = LOCAL ]; then
        dpkg-divert "${dpkg_root[@]}" --local --rename --remove "$target" >/dev/null
        echo "uninstall: the stock module is back at $root$target"
    fi
    if [ -d "$root$doc/examples" ]; then
        rm -rf "$root$doc/examples"
        rmdir "$root$doc" 2>/dev/null || true
        echo "uninstall: removed the samples in $root$doc/examples"
    fi
    echo "uninstall: kept $root$etc and $root$datadir/phoneprov/ (your configuration and" \
        "templates)"
    exit 0
fi

# Only a root with a dpkg database has packages whose files could come back on upgrade.
if has_dpkg; then
    diverted_by=$(dpkg-divert "${dpkg_root[@]}" --listpackage "$target")
    if [ "$diverted_by" = LOCAL ]; then
        echo "install: $target is already diverted: $(dpkg-divert "${dpkg_root[@]}" --truename "$target")"
    elif [ -n "$diverted_by" ]; then
        echo "install: $target is diverted by package $diverted_by: not touching it" >&2
        exit 1
    elif owner=$(dpkg "${dpkg_root[@]}" -S "$target" 2>/dev/null); then
        dpkg-divert "${dpkg_root[@]}" --local --rename --add --divert "$target.stock" "$target"
        echo "install: ${owner%%:*}'s module diverted to $target.stock (undo: see docs/operations.md)"
    fi
fi
install -D -m 0755 "$module" "$root$target"
echo "install: $root$target"

# The samples, as documentation: what is served stays as it was.
install -d "$root$doc/examples"
cp -r "$here/asterisk-conf/." "$root$doc/examples/"
chmod -R u+rwX,go+rX,go-w "$root$doc"
echo "install: samples (configuration and templates) in $root$doc/examples;" \
    "nothing in $root$etc or $root$datadir/phoneprov was changed"
echo "install: done; load it with: asterisk -rx 'module load res_phoneprov.so'"
