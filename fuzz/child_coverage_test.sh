#!/usr/bin/env bash
# The edges a child executes count toward its fuzz input. fuzz_pipe_mp runs
# one seed in which the writer is SIGKILLed at a chosen step; the reader's
# branch for that (MpReader::SawKilledWriter) runs only in the reader's
# process, never in the fuzzing process. With child coverage shared (the
# default), libFuzzer reports that function covered; with
# IPCSPEC_FUZZ_CHILD_COVERAGE=0, it does not. Run by ctest in the fuzz
# build (FuzzChildCoverage) and by ci/presets.
#
#   fuzz/child_coverage_test.sh build/fuzz/fuzz/fuzz_pipe_mp corpus/pipe_mp/t0_killed
set -euo pipefail
bin="$1"
seed="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cp "$seed" "$dir/"
covered() {
  env "$@" "$bin" -runs=0 -print_coverage=1 "$dir" 2>&1 | grep -c '^COVERED_FUNC: .*SawKilledWriter' || true
}
shared="$(covered IPCSPEC_FUZZ_CHILD_COVERAGE=1)"
private="$(covered IPCSPEC_FUZZ_CHILD_COVERAGE=0)"
echo "MpReader::SawKilledWriter covered: $shared with child coverage, $private without"
if [ "$shared" -ge 1 ] && [ "$private" -eq 0 ]; then
  echo "child coverage: PASS"
else
  echo "child coverage: FAIL (the reader's edges after a killed writer must count only when shared)"
  exit 1
fi
