// tests/support/broken_calls.h: the deliberately broken transports' ends
// whose bug is in how a call goes about its work (how it waits, what it
// reads back, what it leaves its process), not in the data it moves; the
// rest are BrokenEnd's (broken_transports.cc).
//
//   // in BrokenChannel::Open, with the inner end `e`:
//   if (std::unique_ptr<End> w = WrapCallBug(*e, role, bug)) return w;
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_

#include <memory>

#include "ipcspec/transport.h"
#include "tests/support/broken_transports.h"

namespace ipcspec::testing {

// `inner` (taken) wrapped in an end with `bug`, when `bug` is one of the
// call-level bugs (broken_calls.cc's kCallBugs: how a call waits or times
// out, what it does at a full channel or a closed peer, what it leaves its
// process, how a counter adds); otherwise nullptr, and `inner` is left as
// it was.
std::unique_ptr<End> WrapCallBug(std::unique_ptr<End>& inner, Role role, Bug bug);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_
