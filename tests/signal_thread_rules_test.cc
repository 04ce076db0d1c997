// The thread rules (per-thread masks and pending sets, process- and
// thread-directed signals, sigwaitinfo in several threads, tgkill errors,
// alternate stacks of new threads): each passes on this kernel and fails
// under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Threads, SignalShimTest,
    ::testing::Values(ShimCase{"SIG-THREAD-MASK", "pthread_create-emptymask"},
                      ShimCase{"SIG-THREAD-PROCDIR", "kill-self-to-thread"},
                      ShimCase{"SIG-THREAD-DIRECTED", "tgkill-process"},
                      ShimCase{"SIG-THREAD-PENDING", "sigpending-shared-only"},
                      ShimCase{"SIG-THREAD-SIGWAIT", "sigwaitinfo-requeue-process"},
                      ShimCase{"SIG-SFD-THREAD", "tgkill-process"},
                      ShimCase{"SIG-TGKILL-ERRORS", "tgkill-noerr"},
                      ShimCase{"SIG-ALTSTACK-THREAD", "pthread_create-altstack"}),
    ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
