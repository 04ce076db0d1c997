// harness/cli/stop_signals.h: SIGINT and SIGTERM as a readable descriptor.
//
// While a StopSignals exists, SIGINT and SIGTERM only write the signal's
// number into a self-pipe, whose read end is MatrixOptions::stop_fd: the run
// kills its running cases, returns what finished, and the command writes
// its reports and exits 128 + signal. A second signal while stopping ends
// the process at once (the reports on disk are whole either way, since they
// are renamed into place). Request() stops the run the same way from inside
// (--fail-fast).
//
//   StopSignals stop;                       // installs the handlers
//   options.stop_fd = stop.fd();
//   ... RunMatrix(pairs, options) ...
//   if (int sig = stop.signal()) return 128 + sig;
#ifndef IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_
#define IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_

#include <signal.h>

#include <string>

#include "ipcspec/util.h"

namespace ipcspec {

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
  // SIGINT or SIGTERM if one arrived, else 0.
  int signal() const;
  // "SIGINT", "SIGTERM", "fail-fast" (given to Request), or "".
  std::string Reason(const std::string& requested_reason) const;

 private:
  FileDescriptor read_, write_;
  struct sigaction old_int_, old_term_;
};

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_STOP_SIGNALS_H_
