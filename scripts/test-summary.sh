#!/usr/bin/env bash
# Runs each argument as a shell command, passing its output through, and ends with one line
# that sums every `test result:` line of the whole run: `N passed, M failed, K ignored`.
# cargo prints one result line per test binary, so the last of them alone (often the soak
# file's "0 passed; 1 ignored") says nothing about the run.
# Every command runs even after a failure; the exit status is non-zero if any failed.
set -uo pipefail

log=$(mktemp)
trap 'rm -f "$log" "$log.failed"' EXIT
status=0
for cmd in "$@"; do
    echo "+ $cmd"
    bash -c "$cmd" 2>&1 | tee -a "$log"
    # The command's own status, not tee's.
    st=${PIPESTATUS[0]}
    if [ "$st" -ne 0 ]; then
        status=$st
        echo "$cmd: exit status $st" >>"$log.failed"
    fi
done

if [ -s "$log.failed" ]; then
    # A build error or a crashed test binary prints no result line: say so, or the
    # summary below could read "0 failed" on a failed run.
    cat "$log.failed"
fi
awk '
    /^test result: / {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^passed;?$/) passed += $(i - 1)
            if ($i ~ /^failed;?$/) failed += $(i - 1)
            if ($i ~ /^ignored;?$/) ignored += $(i - 1)
        }
    }
    END { printf "%d passed, %d failed, %d ignored\n", passed, failed, ignored }
' "$log"
exit "$status"
