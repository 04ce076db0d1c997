// The children and job-control rules (SIGCHLD on exit, stop and continue,
// SA_NOCLDSTOP, SA_NOCLDWAIT, SIGCHLD ignored, coalescing, SIGCONT, stops,
// orphaned process groups, the parent-death signal): each passes on this
// kernel and fails under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Children, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-CHLD-EXIT", "waitid-killed-as-exited"},
                                           ShimCase{"SIG-CHLD-STOPCONT", "waitid-stopsig"},
                                           ShimCase{"SIG-NOCLDSTOP", "sigaction-drop-nocldstop"},
                                           ShimCase{"SIG-NOCLDWAIT", "sigaction-drop-nocldwait"},
                                           ShimCase{"SIG-CHLD-IGN", "sigaction-chldign-dfl"},
                                           ShimCase{"SIG-CHLD-COALESCE", "waitid-once"},
                                           ShimCase{"SIG-CONT-RESUME", "kill-cont-drop"},
                                           ShimCase{"SIG-STOP-PENDING", "kill-term-cont"},
                                           ShimCase{"SIG-STOPCONT-DISCARD", "kill-cont-keepstop"},
                                           ShimCase{"SIG-JOBCTL-ORPHAN", "setsid-fake"},
                                           ShimCase{"SIG-PDEATHSIG", "prctl-nopdeath"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
