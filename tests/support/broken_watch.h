// tests/support/broken_watch.h: deliberately broken ends that watch their
// channel from the side (a doorbell socket, their writers' pids, a count of
// writers), wrapped around a working inner end by BrokenChannel::Open
// (broken_transports.cc):
//
//   if (std::unique_ptr<End> w = WrapWatchBug(*e, role, bug, page, tag)) return w;
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "ipcspec/transport.h"
#include "tests/support/broken_transports.h"

namespace ipcspec::testing {

// Whether `bug` watches its writers' pids over a queue with no end of
// stream (kZombieIsAlive, kGoneAfterLook, kOpenedBeforeAlive): its channel
// needs a shared page, and declares PEER_CLOSE the queue lacks.
bool IsPidWatchBug(Bug bug);

// `inner` (taken) wrapped in the end of `bug` where it is one of these, and
// nullptr otherwise (`inner` left as it was):
//   kBellAfterCheck       a blocking receive checks the channel, then binds
//                         the socket that writers knock on after each send
//                         (the abstract name "ipcspec-bell-<bell_tag>") and
//                         sleeps in poll(2) on it: a send between the check
//                         and the bind knocks on nothing, and the receive
//                         sleeps out its bound
//   kEndBeforeWriterOpens the reader's end reports END while no writer's end
//                         has opened (the writers' opens counted at page+16;
//                         a writer's end is counted and not wrapped)
//   kZombieIsAlive,       (IsPidWatchBug) END once every writer has closed
//   kGoneAfterLook,       or its last writer's pid is gone, looked at
//   kOpenedBeforeAlive    between 2 ms slices of a receive's wait (three
//                         words at page+8); a zombie taken for alive, the
//                         writers looked at a system call after the channel,
//                         or a writer counted as come a system call before
//                         its pid is published
// `page`: the channel's shared page; without it only kBellAfterCheck wraps.
std::unique_ptr<End> WrapWatchBug(std::unique_ptr<End>& inner, Role role, Bug bug,
                                  std::atomic<int>* page, uint64_t bell_tag);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_WATCH_H_
