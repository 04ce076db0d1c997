#!/usr/bin/env bash
# OSS-Fuzz / ClusterFuzzLite build: compiles the fuzz targets with the
# environment's $CC/$CXX, $CFLAGS/$CXXFLAGS (sanitizer and coverage flags)
# and $LIB_FUZZING_ENGINE, and installs into $OUT, per target:
#   fuzz_<t>, fuzz_<t>_seed_corpus.zip, fuzz_<t>.dict, fuzz_<t>.options
#
#   CXX=clang++-14 CC=clang-14 CXXFLAGS="-fsanitize=fuzzer-no-link,address" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out SRC=/work \
#   bash ci/oss-fuzz/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${SRC:-$(dirname "$here")}"
repo="$here"
[ -f "$src/ipcspec/CMakeLists.txt" ] && repo="$src/ipcspec"
: "${OUT:?set OUT}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}"
CC="${CC:-clang}"
CXX="${CXX:-clang++}"
build="${WORK:-$(mktemp -d)}/ipcspec-build"
mapfile -t targets < <(sed -n 's/^IPCSPEC_FUZZ_TARGET(\([a-z0-9_]*\),.*/\1/p' "$repo/fuzz/targets.def")

cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="${CFLAGS:-}" -DCMAKE_CXX_FLAGS="${CXXFLAGS:-}" \
  -DIPCSPEC_FUZZ=ON -DIPCSPEC_BUILD_TESTS=OFF -DIPCSPEC_WERROR=OFF \
  -DIPCSPEC_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  ${IPCSPEC_CMAKE_ARGS:-}
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

mkdir -p "$OUT"
for t in "${targets[@]}"; do
  cp "$build/fuzz/fuzz_$t" "$OUT/fuzz_$t"
  if [ -d "$repo/corpus/$t" ]; then
    rm -f "$OUT/fuzz_${t}_seed_corpus.zip"
    (cd "$repo/corpus/$t" && zip -q -j "$OUT/fuzz_${t}_seed_corpus.zip" ./*)
  fi
  [ -f "$repo/corpus/$t.dict" ] && cp "$repo/corpus/$t.dict" "$OUT/fuzz_$t.dict"
  if [ -f "$repo/corpus/$t.options" ]; then
    # The options file names the dictionary as it is installed.
    sed "s/^dict = .*/dict = fuzz_$t.dict/" "$repo/corpus/$t.options" >"$OUT/fuzz_$t.options"
  fi
done
echo "installed ${#targets[@]} targets into $OUT"
