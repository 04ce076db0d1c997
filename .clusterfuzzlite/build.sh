#!/bin/bash -eu
# ClusterFuzzLite build step: everything is in ci/oss-fuzz/build.sh, which
# also runs by hand (see its header).
exec bash "$SRC/ipcspec/ci/oss-fuzz/build.sh"
