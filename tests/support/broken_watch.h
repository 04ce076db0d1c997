// tests/support/broken_watch.h: deliberately broken ends that watch their
// channel from the side, wrapped around a working inner end by
// BrokenChannel::Open (broken_transports.cc):
//
//   if (bug == Bug::kBellAfterCheck) return WrapBellAfterCheck(*e, role, tag);
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "ipcspec/transport.h"
#include "tests/support/broken_transports.h"

namespace ipcspec::testing {

// Bug::kBellAfterCheck: `inner` (taken) in an end whose blocking receive
// checks the channel, then binds the socket that writers knock on after each
// send (the abstract name "ipcspec-bell-<tag>", `tag` the channel's) and
// sleeps in poll(2) on it: a send between the check and the bind knocks on
// nothing, and the receive sleeps out its bound.
std::unique_ptr<End> WrapBellAfterCheck(std::unique_ptr<End>& inner, Role role, uint64_t tag);

// Bug::kZombieIsAlive, kGoneAfterLook, kOpenedBeforeAlive: `inner` (taken; a queue with no end of
// stream) in an end that reports END once every writer has closed or its last writer's pid is gone,
// looked at between 2 ms slices of a receive's wait. `words`: three ints in the channel's shared
// page.
std::unique_ptr<End> WrapPidWatch(std::unique_ptr<End>& inner, Role role, std::atomic<int>* words,
                                  Bug bug);

// Bug::kEndBeforeWriterOpens: `inner` (taken) in a reader's end that
// reports END while no writer's end has been opened (`writers_opened`, in
// memory the channel's processes share).
std::unique_ptr<End> WrapEndBeforeWriter(std::unique_ptr<End>& inner,
                                         const std::atomic<int>* writers_opened);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_
