// tests/support/broken_channels.h: the deliberately broken transports'
// channels whose bug is in create() itself, not in an end (the rest are in
// broken_transports.cc):
//
//   // Bug::kSharedChannel: every create() while one lives hands it out again.
//   return std::make_unique<SharedHandle>(std::move(live), holds);
//   // Bug::kNameFromCount: a POSIX queue named after the process's count.
//   return CreateCountNamedQueue(scratch);
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_CHANNELS_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_CHANNELS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ipcspec/transport.h"

namespace ipcspec::testing {

// A handle on the one channel that every Create makes while it lives, as a
// transport with one fixed name (or a static) would. The last handle's
// Detach and Destroy reach the channel; `holds` counts the handles not yet
// detached in this process.
class SharedHandle : public Channel {
 public:
  SharedHandle(std::shared_ptr<Channel> inner, std::shared_ptr<int> holds);
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override;
  void Detach() override;
  absl::Status Destroy() override;

 private:
  std::shared_ptr<Channel> inner_;
  std::shared_ptr<int> holds_;
  bool detached_ = false;
};

// posix_mq's queue, named after how many channels this process has made,
// opened with O_CREAT but not O_EXCL: two processes forked from one that
// made none both make the same queue.
absl::StatusOr<std::unique_ptr<Channel>> CreateCountNamedQueue(const std::string& scratch);

// Bug::kTerminalWithoutNoctty: `inner` with a pseudo-terminal beside it,
// as a transport that signals over a tty would: the reader's end holds the
// master, and each writer's end opens the slave without O_NOCTTY, so a
// writer that leads its session takes the tty as its controlling terminal,
// and the reader's close (the last master closed: a hang-up) kills it with
// SIGHUP.
absl::StatusOr<std::unique_ptr<Channel>> WithTerminal(std::unique_ptr<Channel> inner);

// Bug::kNamesOpenToOthers: the /dev/shm names not in `before` (those the
// channel just made) become readable by every user, mode 0644.
void OpenToOthers(const std::vector<std::string>& before);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_CHANNELS_H_
