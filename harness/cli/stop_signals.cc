#include "harness/cli/stop_signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "harness/cli/flags.h"

namespace ipcspec {
namespace {

std::atomic<int> g_write_fd{-1};
std::atomic<int> g_signal{0};
std::atomic<bool> g_requested{false};

void OnStopSignal(int sig) {
  const int saved = errno;
  if (g_signal.exchange(sig) != 0 && sig == SIGINT) {
    // A second Ctrl-C: stop now, the way the default action would. Not a
    // second SIGTERM: coreutils' timeout sends one to the run and then one
    // to its process group, and the run would end without its reports.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
  const char byte = static_cast<char>(sig);
  if (int fd = g_write_fd.load(); fd >= 0) (void)!::write(fd, &byte, 1);
  errno = saved;
}

}  // namespace

StopSignals::StopSignals() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw UsageError{std::string(ErrnoStatus("pipe2", "stop signals").message())};
  }
  read_.reset(fds[0]);
  write_.reset(fds[1]);
  g_signal = 0;
  g_requested = false;
  g_write_fd = write_.get();
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < std::size(kStopSignals); ++i) {
    ::sigaction(kStopSignals[i], &sa, &old_[i]);
  }
}

StopSignals::~StopSignals() {
  for (size_t i = 0; i < std::size(kStopSignals); ++i) {
    ::sigaction(kStopSignals[i], &old_[i], nullptr);
  }
  g_write_fd = -1;
}

void StopSignals::Request() {
  g_requested = true;
  const char byte = 0;
  (void)!::write(write_.get(), &byte, 1);
}

bool StopSignals::requested() const { return g_requested || g_signal != 0; }

int StopSignals::signal() const { return g_signal; }

std::string StopSignals::Reason(const std::string& requested_reason) const {
  switch (g_signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";  // the terminal or the session went away
    case SIGPIPE:
      return "SIGPIPE";  // whoever read the output stopped reading (| head)
  }
  return g_requested ? requested_reason : "";
}

}  // namespace ipcspec
