#!/usr/bin/env bash
# `make deb`: builds target/asterisk-res-phoneprov-rs_<version>_amd64.deb from the release
# module. The package
#   - depends on the exact asterisk-abi-<sum> that the sandbox's Asterisk (whose headers the
#     module was built with) provides, so apt refuses it for another Asterisk build;
#   - diverts the stock res_phoneprov.so (of asterisk-modules) to res_phoneprov.so.stock on
#     install, so that Asterisk loads ours and upgrades of asterisk-modules write theirs
#     beside it, and puts the stock module back when it is removed;
#   - installs README, docs/ and the sample configuration as documentation (examples/);
#   - before its removal, prints what the stock module will do differently with the
#     configuration in /etc/asterisk (scripts/rollback-report.sh).
#
#   scripts/deb.sh [MODULE]    MODULE: the built module (default target/release/...)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
module=${1:-$here/target/release/libres_phoneprov.so}
root=${PHONEPROV_SANDBOX:-$here/.sandbox}/root
pkg=asterisk-res-phoneprov-rs
moddir=/usr/lib/x86_64-linux-gnu/asterisk/modules

die() { echo "deb: $*" >&2; exit 1; }
[ -f "$module" ] || die "$module is missing: run make first"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt install dpkg)"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -n1)
[ -n "$version" ] || die "no version in Cargo.toml"
abi=$(chroot "$root" dpkg-query -W -f='${Provides}' asterisk 2>/dev/null |
    tr ',' '\n' | sed -n 's/^[[:space:]]*\(asterisk-abi-[0-9a-f]*\).*/\1/p' | head -n1)
[ -n "$abi" ] || die "the sandbox's asterisk package provides no asterisk-abi-*: run make sandbox"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0644 "$module" "$stage$moddir/res_phoneprov.so"
doc=$stage/usr/share/doc/$pkg
install -d "$doc/examples"
cp -r "$here/asterisk-conf/." "$doc/examples/"
install -m 0644 "$here/README.md" "$doc/README.md"
install -d "$doc/docs"
install -m 0644 "$here"/docs/*.md "$doc/docs/"
cat > "$doc/copyright" <<EOF
res_phoneprov in Rust: a drop-in replacement for Asterisk's res_phoneprov.
License: GPL-2.0 (it registers with Asterisk's GPL key). On Debian systems the license is
in /usr/share/common-licenses/GPL-2.
EOF
chmod -R u+rwX,go+rX,go-w "$doc"

share=/usr/share/$pkg
install -D -m 0755 "$here/scripts/rollback-report.sh" "$stage$share/rollback-report.sh"

install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: amd64
Maintainer: res_phoneprov in Rust maintainers <root@localhost>
Depends: $abi, asterisk-modules
Section: comm
Priority: optional
Description: Asterisk phone provisioning (res_phoneprov) written in Rust
 A drop-in replacement for Asterisk's res_phoneprov.so: the same configuration and
 URLs, safe under concurrent requests and reloads, with authentication, metrics and
 re-sync. The stock module is diverted to res_phoneprov.so.stock while this package is
 installed, and put back when it is removed.
EOF
cat > "$stage/DEBIAN/preinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = install ] || [ "\$1" = upgrade ]; then
    dpkg-divert --package $pkg --add --rename --divert $moddir/res_phoneprov.so.stock $moddir/res_phoneprov.so
    echo "$pkg: the stock $moddir/res_phoneprov.so is diverted to res_phoneprov.so.stock"
fi
EOF
cat > "$stage/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
if [ "\$1" = remove ] || [ "\$1" = purge ] || [ "\$1" = abort-install ] || [ "\$1" = disappear ]; then
    dpkg-divert --package $pkg --remove --rename --divert $moddir/res_phoneprov.so.stock $moddir/res_phoneprov.so
    echo "$pkg: the stock $moddir/res_phoneprov.so is back"
fi
EOF
cat > "$stage/DEBIAN/prerm" <<EOF
#!/bin/sh
set -e
if [ "\$1" = remove ]; then
    sh $share/rollback-report.sh /etc/asterisk $moddir/res_phoneprov.so.stock /usr/share/asterisk/phoneprov || true
fi
EOF
chmod 0755 "$stage/DEBIAN/preinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

out=$here/target/${pkg}_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "deb: $out (Depends: $abi)"
