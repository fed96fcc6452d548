#!/usr/bin/env bash
# `make run`: Asterisk from the sandbox, in the foreground, with our module and the sample
# configuration of asterisk-conf/, serving http://127.0.0.1:8088/phoneprov/. Ctrl-C stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${PHONEPROV_SANDBOX:-$here/.sandbox}/root
module=${PHONEPROV_MODULE:-$here/target/release/libres_phoneprov.so}
conf=$("$here/scripts/instance.sh" phoneprov-run "$here/asterisk-conf" "$module")

cat <<TXT
res_phoneprov (Rust) in Asterisk $(chroot "$root" /usr/sbin/asterisk -V | cut -d' ' -f2), sample configuration of asterisk-conf/.
Try, from another terminal:
  curl http://127.0.0.1:8088/phoneprov/sip.cfg                    (a static file)
  curl http://127.0.0.1:8088/phoneprov/0004f2000001.cfg           (a Polycom master file)
  curl http://127.0.0.1:8088/phoneprov/0004f2000001-phone.cfg     (two lines, one phone)
  curl http://127.0.0.1:8088/phoneprov/0004f2000001-directory.xml (PP_EACH_USER)
  curl http://127.0.0.1:8088/phoneprov/snom-000413000010.xml      (a Snom phone)
  sudo chroot $root /usr/sbin/asterisk -C $conf -rx 'phoneprov show routes'
Ctrl-C stops Asterisk.
TXT
# -c gives a console (Ctrl-C ends Asterisk); without a terminal, -f keeps it in the foreground.
if [ -t 0 ]; then mode=-c; else mode=-f; fi
exec chroot "$root" /usr/sbin/asterisk -C "$conf" $mode -n -q
