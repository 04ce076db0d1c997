// The exec rules (pending signals delivered in the new image, actions
// without flags or masks, signalfd across execve, and the existing SIG-EXEC):
// each passes on this kernel and fails under its interposed-libc mode
// (tests/shim/shim_signal.c), which acts in the exec'd probe where the
// kernel's side of execve cannot be reached.
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Exec, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-EXEC", "execve-ign-to-dfl"},
                                           ShimCase{"SIG-EXEC-DELIVER", "execve-droppending"},
                                           ShimCase{"SIG-EXEC-FLAGS", "sigaction-query-fakeflags"},
                                           ShimCase{"SIG-SFD-EXEC", "signalfd-forcecloexec"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
