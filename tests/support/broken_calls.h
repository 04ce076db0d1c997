// tests/support/broken_calls.h: the deliberately broken transports' ends
// whose bug is in how a call goes about its work (how it waits, what it
// reads back, what it leaves its process), not in the data it moves; the
// rest are BrokenEnd's (broken_transports.cc).
//
//   // in BrokenChannel::Open, with the inner end `e`:
//   if (std::unique_ptr<End> w = WrapCallBug(*e, role, bug)) return w;
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_

#include <atomic>
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

// Bug::kBellAfterCheck: `inner` (taken) in an end whose blocking receive
// checks the channel, then binds the socket that writers knock on after each
// send (the abstract name "ipcspec-bell-<tag>", `tag` the channel's) and
// sleeps in poll(2) on it: a send between the check and the bind knocks on
// nothing, and the receive sleeps out its bound.
std::unique_ptr<End> WrapBellAfterCheck(std::unique_ptr<End>& inner, Role role, uint64_t tag);

// Bug::kZombieIsAlive: `inner` (taken; a queue with no end of stream) in
// an end that reports END once every writer has closed or its last writer's
// pid is gone, looked at between 2 ms slices of a receive's wait. `words`:
// three ints in the channel's shared page.
std::unique_ptr<End> WrapPidWatch(std::unique_ptr<End>& inner, Role role, std::atomic<int>* words,
                                  Bug bug);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_CALLS_H_
