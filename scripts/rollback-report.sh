#!/bin/sh
# What the stock res_phoneprov will do differently with this configuration: printed by
# `make uninstall` and by the package's removal before the stock module comes back.
#
#   rollback-report.sh ETCDIR [STOCK_MODULE [TEMPLATES]]
#
# ETCDIR holds phoneprov.conf and the users files; STOCK_MODULE, when given, is the stock
# module's file (it tells whether it reads phoneprov_users.conf, as Asterisk 23's does, or
# only users.conf, as Asterisk 22's); TEMPLATES is AST_DATA_DIR/phoneprov. Prints nothing
# when nothing would change. POSIX sh and awk only: it also runs from the package's
# maintainer scripts.
etc=${1:?usage: rollback-report.sh ETCDIR [STOCK_MODULE [TEMPLATES]]}
stock=${2:-}
templates=${3:-}
conf=$etc/phoneprov.conf
found=0
say() {
    [ $found = 1 ] || echo "rollback: with this configuration, the stock res_phoneprov.so will:"
    found=1
    echo "rollback:   - $*"
}

# Keys set in phoneprov.conf, as "section key" lines (comments and blank lines left out).
keys() {
    [ -f "$conf" ] || return 0
    awk '
        { sub(/;.*/, "") }
        /^[ \t]*\[/ { s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*/, "", s); next }
        /=/ { k = $0; sub(/[ \t]*=.*/, "", k); sub(/^[ \t]*/, "", k); v = $0
              sub(/^[^=]*=>?[ \t]*/, "", v); sub(/[ \t]*$/, "", v)
              print s "\t" tolower(k) "\t" v }
    ' "$conf"
}
has() { keys | awk -F '\t' -v k="$1" -v v="${2:-}" \
    '$2 == k && (v == "" || tolower($3) != v) { f = 1 } END { exit !f }'; }
sections_with() { keys | awk -F '\t' -v k="$1" -v v="${2:-}" \
    '$2 == k && (v == "" || tolower($3) != v) && !seen[$1]++ { printf "%s[%s]", sep, $1; sep = ", " }'; }

if has auth none; then
    say "serve the files of $(sections_with auth none) to anyone: authentication (auth) is ignored, and every phone's file carries its SIP secret"
fi
for k in permit deny acl; do
    if has $k; then
        say "ignore the access lists ($k) of $(sections_with $k): every address is served"
        break
    fi
done
if has require_tls no; then
    say "serve over plain HTTP what require_tls reserves to HTTPS ($(sections_with require_tls no))"
fi
if has enroll_file; then
    say "answer 404 to every enrollment token URL (/phoneprov/enroll/...): tokens are a feature of this module"
fi
if has uploads; then
    say "refuse every upload (PUT) of $(sections_with uploads), and serve none of the files phones uploaded"
fi
if has users_realtime; then
    say "serve none of the phones of the realtime family (users_realtime): dynamic lookup is a feature of this module"
fi
if has miss_limit || has miss_window || has miss_ban; then
    say "not rate-limit failed requests (miss_limit, miss_window, miss_ban)"
fi
for k in auth auth_static auth_realm auth_rollout auth_nonce_ttl auth_basic_plain require_tls \
    ua_mac_check permit deny acl family models resync_event enroll_file uploads upload_max \
    upload_quota uploads_unauthenticated; do
    if keys | awk -F '\t' -v k=$k '$1 != "general" && $2 == k { f = 1 } END { exit !f }'; then
        say "read this module's profile options (auth, acl, family, uploads, ...) as file names: each becomes a route such as /phoneprov/auth"
        break
    fi
done
if [ -n "$templates" ] && [ -d "$templates" ] &&
    grep -rlqE 'PP_(XML|QRCODE|BASE_URL|UA_)' "$templates" 2>/dev/null; then
    say "leave \${PP_XML(...)}, \${PP_QRCODE(...)}, PP_BASE_URL and PP_UA_* of the templates empty"
fi
if [ -f "$etc/phoneprov_users.conf" ]; then
    phones=$(grep -ciE '^[[:space:]]*macaddress[[:space:]]*=' "$etc/phoneprov_users.conf" || true)
    if [ -n "$stock" ] && [ -f "$stock" ] && ! grep -q 'phoneprov_users' "$stock"; then
        say "serve none of the $phones phones of phoneprov_users.conf: this Asterisk's stock module reads users.conf only"
    fi
fi
[ $found = 0 ] || echo "rollback: phoneprov_users.conf, phoneprov.conf and the templates are kept as they are."
exit 0
