// The kill rules (signal 0, errors, permissions, process groups, kill(-1)
// inside a PID namespace, zombies, pidfd_send_signal): each passes on this
// kernel and fails under its interposed-libc mode (tests/shim/shim_signal.c).
#include "tests/signal_shim_cases.h"

namespace ipcspec::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Kill, SignalShimTest,
                         ::testing::Values(ShimCase{"SIG-KILL-PROBE", "kill-zero-delivers"},
                                           ShimCase{"SIG-KILL-ERRNO", "kill-invalid-ok"},
                                           ShimCase{"SIG-KILL-EPERM", "kill-eperm-ok"},
                                           ShimCase{"SIG-KILL-PGRP", "kill-pgrp-leader-only"},
                                           ShimCase{"SIG-KILL-ALL", "kill-all-includes-self"},
                                           ShimCase{"SIG-KILL-ZOMBIE", "kill-zombie-esrch"},
                                           ShimCase{"SIG-PIDFD-SEND",
                                                    "pidfd_send_signal-stale-ok"}),
                         ShimCaseName);

}  // namespace
}  // namespace ipcspec::testing
