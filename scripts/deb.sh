#!/usr/bin/env bash
# `make deb`: builds target/asterisk-res-phoneprov-rs_<version>_amd64.deb from the release
# module (`make` builds it against the installed Asterisk's headers when asterisk-dev is
# there, else the sandbox's). The package
#   - depends on the exact asterisk-abi-<sum> of the headers the module was built with (read
#     from the built file), so apt refuses it for another Asterisk build;
#   - is versioned <project version>+<commits>+ast<Asterisk version>: the project version of
#     the last git tag (v1.2.3), else Cargo.toml's; the commits since that tag (or in all),
#     so that each new build is a newer package; PKG_VERSION overrides it all;
#   - ships a Debian changelog of the commits the version counts (the last 30);
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
pkg=asterisk-res-phoneprov-rs
moddir=/usr/lib/x86_64-linux-gnu/asterisk/modules

die() { echo "deb: $*" >&2; exit 1; }
[ -f "$module" ] || die "$module is missing: run make first"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt install dpkg)"

# What the module was built for: its Asterisk's version and ABI checksum.
built=$(grep -a -o 'res_phoneprov built for: asterisk [^ ]* abi [0-9a-f]*' "$module" | head -n1)
ast_version=$(echo "$built" | sed -n 's/^res_phoneprov built for: asterisk \([^ ]*\) abi .*/\1/p')
sum=$(echo "$built" | sed -n 's/.* abi \([0-9a-f]*\)$/\1/p')
[ -n "$sum" ] || die "$module does not say which Asterisk it was built for: rebuild it (make)"
abi=asterisk-abi-$sum
# The upstream part of Asterisk's version (22.10.1 of 22.10.1+dfsg+~cs6-1).
ast_upstream=$(echo "$ast_version" | sed 's/[+~-].*//')
[ -n "$ast_upstream" ] || ast_upstream=unknown

tag=$(git -C "$here" describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
if [ -n "$tag" ]; then
    base=${tag#v}
    count=$(git -C "$here" rev-list --count "$tag..HEAD" 2>/dev/null || echo 0)
    range=$tag..HEAD
else
    base=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -n1)
    count=$(git -C "$here" rev-list --count HEAD 2>/dev/null || echo 0)
    range=HEAD
fi
[ -n "$base" ] || die "no version in Cargo.toml"
version=${PKG_VERSION:-$base+$count+ast$ast_upstream}

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
{
    echo "$pkg ($version) unstable; urgency=medium"
    echo
    echo "  * Built for Asterisk $ast_version ($abi)."
    git -C "$here" log --no-merges -n 30 --format='  * %s' $range 2>/dev/null || true
    echo
    echo " -- res_phoneprov in Rust maintainers <root@localhost>  $(date -R)"
} | gzip -9n > "$doc/changelog.Debian.gz"
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
