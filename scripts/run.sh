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
  curl http://127.0.0.1:8088/phoneprov/sip.cfg                         (a static file)
Phones' files ask for HTTP Digest credentials (the phone's first line), as phones send them:
  curl --digest -u 6001:alice-secret http://127.0.0.1:8088/phoneprov/0004f2000001-reg.cfg
  curl --digest -u 6001:alice-secret http://127.0.0.1:8088/phoneprov/0004f2000001-directory.xml
  curl --digest -u 6010:carol-secret http://127.0.0.1:8088/phoneprov/snom/000413000010.xml
  curl --digest -u 6020:dave-secret  http://127.0.0.1:8088/phoneprov/805ec0000020.cfg
  curl --digest -u 6030:erin-secret  http://127.0.0.1:8088/phoneprov/cfg000b82000030.xml
  curl --digest -u 6040:frank-secret http://127.0.0.1:8088/phoneprov/spa0018f8000040.xml
  curl --digest -u 6050:grace-secret http://127.0.0.1:8088/phoneprov/linphone/7f3a9c2e5b1d4e6f0a8b2c3d.xml
  curl --digest -u 6060:heidi-secret http://127.0.0.1:8088/phoneprov/805ec0000060.cfg
  curl --digest -u 6070:judy-secret  http://127.0.0.1:8088/phoneprov/fanvil/0c383e000070.cfg
  curl --digest -u 6080:karl-secret  http://127.0.0.1:8088/phoneprov/gigaset/7C2F80000080.xml
  curl --digest -u 6090:laura-secret http://127.0.0.1:8088/phoneprov/htek/cfg001fc1000090.xml
  curl --digest -u 6100:mallory-secret http://127.0.0.1:8088/phoneprov/cisco/00562b000100.xml
  curl --digest -u 6110:nina-secret  http://127.0.0.1:8088/phoneprov/snom-dect/000413000110.xml
  sudo chroot $root /usr/sbin/asterisk -C $conf -rx 'phoneprov token 7f3a9c2e5b1d4e6f0a8b2c3d 600 qr'
      (a single-use enrollment URL for the Linphone app, as a QR code, when serveraddr is set)
  sudo chroot $root /usr/sbin/asterisk -C $conf -rx 'phoneprov check'
Ctrl-C stops Asterisk.
TXT
# -c gives a console (Ctrl-C ends Asterisk); without a terminal, -f keeps it in the foreground.
if [ -t 0 ]; then mode=-c; else mode=-f; fi
exec chroot "$root" /usr/sbin/asterisk -C "$conf" $mode -n -q
