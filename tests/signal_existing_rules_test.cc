// The older SIG-* properties that a libc wrapper can break: each passes on
// this kernel and fails under its interposed-libc mode (tests/shim/
// shim_signal*.c). SIG-COALESCE, SIG-UNCATCHABLE and SIG-EXEC are in the
// waiting and exec suites; SIG-RT-QUEUE and SIG-MODEL are proven with a
// substituted signal in mech_signal_shm_socket_test.
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Existing, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-BLOCK", "sigprocmask-unblock-noop"},
                                           ShimCase{"SIG-HANDLE-INFO", "sigqueue-as-kill"},
                                           ShimCase{"SIG-NODEFER", "sigaction-flip-nodefer"},
                                           ShimCase{"SIG-SA-MASK", "sigaction-drop-samask"},
                                           ShimCase{"SIG-RESTART", "sigaction-drop-restart"},
                                           ShimCase{"SIG-RESETHAND", "sigaction-drop-resethand"},
                                           ShimCase{"SIG-IGNORE", "sigaction-ign-keeps-handler"},
                                           ShimCase{"SIG-IGNORE-BLOCKED",
                                                    "sigpending-hides-ignored"},
                                           ShimCase{"SIG-DEFAULT", "kill-term-as-sigterm"},
                                           ShimCase{"SIG-FORK", "fork-child-unblocks"},
                                           ShimCase{"SIG-RT-LIMIT", "sigqueue-limit-eintr"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
