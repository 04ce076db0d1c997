#!/usr/bin/env bash
# OSS-Fuzz / ClusterFuzzLite build (.clusterfuzzlite/build.sh runs it):
# compiles the fuzz targets of fuzz/targets.def with the environment's
# $CC/$CXX, $CFLAGS/$CXXFLAGS (sanitizer and coverage flags) and
# $LIB_FUZZING_ENGINE, and installs into $OUT, per target:
#   fuzz_<t>, fuzz_<t>_seed_corpus.zip, fuzz_<t>.dict, fuzz_<t>.options
# and for fuzz_plugin the plugin it fuzzes when IPCSPEC_PLUGIN is not set,
# libspsc_ring.so beside it (examples/spsc_ring).
#
# Dependencies: the system's (Debian: ci/setup), or, when the image cloned
# their sources into $SRC (.clusterfuzzlite/Dockerfile), Abseil, rapidcheck
# and nlohmann-json built here with the same compiler and flags.
#
#   CXX=clang++-14 CC=clang-14 CXXFLAGS="-fsanitize=fuzzer-no-link,address" \
#   CFLAGS="-fsanitize=fuzzer-no-link,address" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out bash ci/oss-fuzz/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${SRC:-$(dirname "$here")}"
repo="$here"
[ -f "$src/ipcspec/CMakeLists.txt" ] && repo="$src/ipcspec"
: "${OUT:?set OUT}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}"
CC="${CC:-clang}"
CXX="${CXX:-clang++}"
work="${WORK:-$(mktemp -d)}"
build="$work/ipcspec-build"
mapfile -t targets < <(sed -n 's/^IPCSPEC_FUZZ_TARGET(\([a-z0-9_]*\),.*/\1/p' "$repo/fuzz/targets.def")

# dep NAME SOURCE [cmake args]: builds and installs one dependency into $deps.
deps="$work/deps"
dep() {
  local name="$1" source="$2"
  shift 2
  cmake -S "$source" -B "$work/build-$name" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="${CFLAGS:-}" -DCMAKE_CXX_FLAGS="${CXXFLAGS:-}" \
    -DCMAKE_INSTALL_PREFIX="$deps" -DCMAKE_POSITION_INDEPENDENT_CODE=ON "$@" >/dev/null
  cmake --build "$work/build-$name" >/dev/null
  cmake --install "$work/build-$name" >/dev/null
}
prefix=()
if [ -d "$src/abseil-cpp" ]; then
  dep absl "$src/abseil-cpp" -DABSL_PROPAGATE_CXX_STD=ON -DCMAKE_CXX_STANDARD=20
  dep rapidcheck "$src/rapidcheck"
  dep json "$src/nlohmann-json" -DJSON_BuildTests=OFF
  prefix=(-DCMAKE_PREFIX_PATH="$deps")
fi

cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="${CFLAGS:-}" -DCMAKE_CXX_FLAGS="${CXXFLAGS:-}" \
  -DIPCSPEC_FUZZ=ON -DIPCSPEC_BUILD_TESTS=OFF -DIPCSPEC_WERROR=OFF \
  -DIPCSPEC_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  -DIPCSPEC_FUZZ_DEFAULT_PLUGIN=libspsc_ring.so \
  "${prefix[@]}" ${IPCSPEC_CMAKE_ARGS:-}
cmake --build "$build" --target "${targets[@]/#/fuzz_}" fuzz_plugin_spsc_ring

mkdir -p "$OUT"
cp "$build/fuzz/plugins/libspsc_ring.so" "$OUT/"
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
