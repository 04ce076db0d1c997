// tests/support/hanging_transports.h: deliberately hanging transports, to
// prove that the watchdog (ipcspec/watch.h) reports a hang as `timeout` with
// a diagnosis, and that the engine shrinks it like any failure.
//
//   hang_after_kill       pipe whose recv never returns once its writer died
//                         (where end of stream is owed): G-PEER-CRASH
//   hang_ignores_timeout  pipe whose recv ignores its timeout: G-TIMEOUT
//
//   testing::RegisterHangingTransports();
//   PropertyResult r = RunProperty(*Find("hang_ignores_timeout"), *Find("G-TIMEOUT"), ...);
//   // r.outcome == kTimeout, r.message "reader blocked in recv(timeout 1 ms) ..."
#ifndef IPCSPEC_TESTS_SUPPORT_HANGING_TRANSPORTS_H_
#define IPCSPEC_TESTS_SUPPORT_HANGING_TRANSPORTS_H_

namespace ipcspec::testing {

// Registers both (built on the built-in `pipe`); safe to call twice.
void RegisterHangingTransports();

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_HANGING_TRANSPORTS_H_
