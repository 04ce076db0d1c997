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
  if (g_signal.exchange(sig) != 0) {
    // A second signal: stop now, the way the default action would.
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
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
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
  if (g_signal == SIGINT) return "SIGINT";
  if (g_signal == SIGTERM) return "SIGTERM";
  return g_requested ? requested_reason : "";
}

}  // namespace ipcspec
