// harness/cli/stop_signals.h: the signals that stop a run, as a readable
// descriptor.
//
// While a StopSignals exists, SIGINT, SIGTERM, SIGHUP and SIGPIPE only write
// the signal's number into a self-pipe, whose read end is
// MatrixOptions::stop_fd: the run kills its running cases, returns what
// finished, and the command writes its reports and exits 128 + signal. A
// second SIGINT while stopping ends the process at once (the reports on
// disk are whole either way, since they are renamed into place); other
// signals never do, since `timeout` sends SIGTERM twice. Request() stops
// the run the same way from inside (--fail-fast).
//
//   StopSignals stop;                       // installs the handlers
//   options.stop_fd = stop.fd();
//   ... RunMatrix(pairs, options) ...
//   if (int sig = stop.signal()) return 128 + sig;
#ifndef IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_
#define IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_

#include <signal.h>

#include <iterator>
#include <string>

#include "ipcspec/util.h"

namespace ipcspec {

inline constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

class StopSignals {
 public:
  StopSignals();  // throws UsageError if the pipe cannot be made
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int fd() const { return read_.get(); }
  // Stops the run as a signal would, for a reason of the program's own.
  void Request();
  bool requested() const;
  // The first of kStopSignals that arrived, else 0.
  int signal() const;
  // "SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "fail-fast" (given to
  // Request), or "".
  std::string Reason(const std::string& requested_reason) const;

 private:
  FileDescriptor read_, write_;
  struct sigaction old_[std::size(kStopSignals)];
};

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_
