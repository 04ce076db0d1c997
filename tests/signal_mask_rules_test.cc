// The mask and sigaction rules (how, queries, EINVAL, SIGKILL/SIGSTOP never
// blocked, aliased sets, invalid signals, round trips): each passes on this
// kernel and fails under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Masks, SignalShimTest,
    ::testing::Values(ShimCase{"SIG-MASK-HOW", "sigprocmask-unblock-noop"},
                      ShimCase{"SIG-MASK-QUERY", "sigprocmask-null-setmask-clears"},
                      ShimCase{"SIG-MASK-EINVAL", "sigprocmask-badhow-block"},
                      ShimCase{"SIG-MASK-UNBLOCKABLE", "sigprocmask-report-kill"},
                      ShimCase{"SIG-MASK-ALIAS", "sigprocmask-alias-bug"},
                      ShimCase{"SIG-ACTION-EINVAL", "sigaction-badsig-ok"},
                      ShimCase{"SIG-ACTION-ROUNDTRIP", "sigaction-oldact-nomask"}),
    ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
