// The delivery rules (SA_RESETHAND with SA_SIGINFO, the alternate stack,
// delivery to oneself, the first instance's siginfo, the queue limit, forged
// siginfo, SIG_IGN on pending signals): each passes on this kernel and fails
// under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Delivery, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-RESETHAND-INFO",
                                                    "sigaction-resethand-nodefer"},
                                           ShimCase{"SIG-ONSTACK", "sigaction-drop-onstack"},
                                           ShimCase{"SIG-ALTSTACK-ERRORS", "sigaltstack-noerr"},
                                           ShimCase{"SIG-ALTSTACK-INHERIT", "fork-noaltstack"},
                                           ShimCase{"SIG-SELF-SYNC", "kill-self-deferred"},
                                           ShimCase{"SIG-COALESCE-INFO", "sigqueue-std-replace"},
                                           ShimCase{"SIG-RT-LIMIT-LOSSY", "kill-rt-eagain"},
                                           ShimCase{"SIG-QUEUEINFO-PERM", "pidfd-sqi-spoof"},
                                           ShimCase{"SIG-IGN-FLUSH", "sigaction-ign-keep"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
