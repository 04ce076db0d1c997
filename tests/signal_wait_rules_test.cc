// The waiting rules (sigsuspend, pause, ppoll, sigwaitinfo, sigtimedwait)
// and the fixed SIG-COALESCE and SIG-UNCATCHABLE: each passes on this
// kernel and fails under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Waiting, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-COALESCE", "coalesce-requeue"},
                                           ShimCase{"SIG-UNCATCHABLE", "kill-sigstop-to-sigusr1"},
                                           ShimCase{"SIG-SUSPEND-MASK", "sigsuspend-norestore"},
                                           ShimCase{"SIG-SUSPEND-EINTR", "sigsuspend-ret0"},
                                           ShimCase{"SIG-SUSPEND-TERM", "sigsuspend-catchall"},
                                           ShimCase{"SIG-PAUSE", "pause-spurious"},
                                           ShimCase{"SIG-PPOLL-MASK", "ppoll-nomask"},
                                           ShimCase{"SIG-WAIT-TAKE", "sigwaitinfo-noconsume"},
                                           ShimCase{"SIG-WAIT-ORDER", "sigwaitinfo-highest"},
                                           ShimCase{"SIG-WAIT-TIMEOUT", "sigtimedwait-eintr"},
                                           ShimCase{"SIG-WAIT-EINTR", "sigwait-eintr0"},
                                           ShimCase{"SIG-WAIT-EINVAL", "sigtimedwait-noeinval"},
                                           ShimCase{"SIG-WAIT-INFO", "sigwaitinfo-nopid"},
                                           ShimCase{"SIG-WAIT-IGNORED", "sigwaitinfo-unignore"},
                                           ShimCase{"SIG-WAIT-UNCATCHABLE", "tgkill-kill-subst"}),
                         ShimCaseName);

INSTANTIATE_TEST_SUITE_P(Signalfd, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-SFD-READ", "sfd-noconsume"},
                                           ShimCase{"SIG-SFD-MASK", "sfd-fullmask"},
                                           ShimCase{"SIG-SFD-PROCMASK", "sfd-blocks"},
                                           ShimCase{"SIG-SFD-NONBLOCK", "sfd-dropflags"},
                                           ShimCase{"SIG-SFD-FORK", "sfd-fork-empty"},
                                           ShimCase{"SIG-SFD-ERRORS", "sfd-noerr"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
