#!/usr/bin/env bash
# A fuzz target stopped by SIGTERM or SIGINT (libFuzzer then _Exits, running
# no atexit handler) leaves nothing in the file system: its scratch
# directory, the mqueue mount point and a fork server's root all go
# (fuzz/fuzz_leftovers.h). Each target given runs from a copy of its corpus
# with a private TMPDIR; once it has printed INITED, the test checks that
# its directories are there (so the check below could fail), sends the
# signal, reads the target's output to its end (the cleaner holds it open
# until it is done: no clock is waited on), and checks that TMPDIR holds no
# ipcspec entry and that no process of the run is alive. Run by ctest in the
# fuzz build (FuzzStopSignal).
#
#   fuzz/stop_signal_test.sh build/fuzz/fuzz corpus pipe pipe_mp
set -euo pipefail
bins="$1"
corpus="$2"
shift 2
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fail=0
for t in "$@"; do
  for sig in TERM INT; do
    run="$dir/$t-$sig"
    mkdir -p "$run/tmp" "$run/corpus"
    cp -r "$corpus/$t/." "$run/corpus/"
    mkfifo "$run/out"
    # The deadline is a last resort only: the signal ends the run. (A
    # background command of a script starts with SIGINT ignored: restored.)
    TMPDIR="$run/tmp" env --default-signal=INT "$bins/fuzz_$t" "$run/corpus" -max_total_time=600 \
        -artifact_prefix="$run/" >"$run/out" 2>&1 &
    pid=$!
    exec {out}<"$run/out"
    inited=0
    while IFS= read -r line <&"$out"; do
      echo "$line" >>"$run/log"
      case "$line" in *INITED*) inited=1; break ;; esac
    done
    made="$(ls "$run/tmp" | grep -c '^ipcspec' || true)"
    kill -s "$sig" "$pid"
    # To the end of the output: the target, its fork server and the cleaner
    # have all closed it.
    cat <&"$out" >>"$run/log"
    exec {out}<&-
    status=0
    wait "$pid" || status=$?
    left="$(ls -A "$run/tmp" | tr '\n' ' ')"
    # Every process of the run held the output open to its exit (a zombie
    # has no command line, so only the living match).
    alive="$(pgrep -f -- "$run/corpus" | tr '\n' ' ' || true)"
    [ -n "$alive" ] && left="$left processes $alive"
    if [ "$inited" = 1 ] && [ "$made" -ge 1 ] && [ -z "$left" ] &&
        grep -qE 'run interrupted|exiting as requested' "$run/log"; then
      echo "fuzz_$t SIG$sig: $made ipcspec directories while running, none after (exit $status)"
    else
      echo "fuzz_$t SIG$sig: FAIL (inited $inited, $made made, exit $status, left: ${left:-nothing})"
      tail -5 "$run/log"
      fail=1
    fi
  done
done
if [ "$fail" = 0 ]; then echo "stop signal: PASS"; else echo "stop signal: FAIL"; fi
exit "$fail"
