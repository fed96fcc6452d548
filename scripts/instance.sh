#!/usr/bin/env bash
# Prepares a private Asterisk instance inside the sandbox from a config folder:
#   scripts/instance.sh NAME CONFDIR MODULE.so
# Writes .sandbox/root/tmp/NAME/{etc,mod,data,...}: CONFDIR/*.conf into etc/, CONFDIR/phoneprov/
# into data/phoneprov/, the stock modules named in CONFDIR/modules.conf and MODULE.so (as
# res_phoneprov.so) into mod/. Prints the path of its asterisk.conf inside the chroot.
set -euo pipefail
name=$1 confdir=$2 module=$3
here=$(cd "$(dirname "$0")/.." && pwd)
root=${PHONEPROV_SANDBOX:-$here/.sandbox}/root
stock=/usr/lib/x86_64-linux-gnu/asterisk/modules
inner=/tmp/$name
dir=$root$inner

rm -rf "$dir"
mkdir -p "$dir"/{etc,mod,lib,data,spool,run,log}
cp "$confdir"/*.conf "$dir/etc/"
# Asterisk's core reads these at every start and logs an error or a warning for each one
# missing; empty files mean defaults. (Not in asterisk-conf/: `make install` must never
# put them into a real /etc/asterisk.)
for core in cdr cel features acl udptl ccss; do
    [ -e "$dir/etc/$core.conf" ] || : >"$dir/etc/$core.conf"
done
# Tones need a default country, or Asterisk warns that it has none.
[ -e "$dir/etc/indications.conf" ] ||
    printf '[general]\ncountry = us\n\n[us]\ndescription = United States\ndial = 350+440\n' \
        >"$dir/etc/indications.conf"
cp -r "$confdir/phoneprov" "$dir/data/phoneprov"
ln -s /usr/share/asterisk/documentation "$dir/data/documentation"
cat >"$dir/etc/asterisk.conf" <<CONF
[directories]
astetcdir => $inner/etc
astmoddir => $inner/mod
astvarlibdir => $inner/lib
astdbdir => $inner/lib
astkeydir => $inner/lib
astdatadir => $inner/data
astagidir => $inner/data
astspooldir => $inner/spool
astrundir => $inner/run
astlogdir => $inner/log
astsbindir => /usr/sbin
CONF
for m in $(sed -n 's/^[[:space:]]*\(pre\)\{0,1\}load[[:space:]]*=>[[:space:]]*\([^[:space:];]*\).*/\2/p' "$dir/etc/modules.conf"); do
    [ "$m" = res_phoneprov.so ] && continue
    ln -s "$stock/$m" "$dir/mod/$m"
done
cp "$module" "$dir/mod/res_phoneprov.so"
echo "$inner/etc/asterisk.conf"
