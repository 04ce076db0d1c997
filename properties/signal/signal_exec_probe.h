// properties/signal/signal_exec_probe.h: what a new program image sees of
// its signal state right after execve, for the SIG-EXEC* properties.
//
// A property forks, prepares the child's signal state and calls
// ExecProbe(), which execve()s the running binary (/proc/self/exe) with
// IPCSPEC_SIG_PROBE in its environment. A constructor in this library (so in
// every binary that holds the properties: ipcspec, the tests, the fuzz
// targets) sees that variable before main(), writes one ProbeReport to the
// descriptor it names and exits 0; with `deliver`, it then installs recording
// handlers (or, with `deliver_default`, none) and unblocks every signal, so
// the signals kept pending across exec are delivered in the new image.
//
//   ProbeRun run = RunProbe([&](ProbeOptions&) { /* set up the child */ }, {}, 1, deadline);
//   if (run.reports.empty()) ...;
//   // run.reports[0].action[SIGUSR1].kind == kProbeDefault, .pending, .deliveries[...]
#ifndef IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_EXEC_PROBE_H_
#define IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_EXEC_PROBE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "ipcspec/util.h"

namespace ipcspec::props {

inline constexpr uint32_t kProbeMagic = 0x53494750;  // "SIGP"
inline constexpr int kProbeMaxSignal = 64;

enum ProbeKind : int32_t {
  kProbeUnknown = -1,
  kProbeDefault = 0,
  kProbeIgnore = 1,
  kProbeHandler = 2
};

struct ProbeAction {
  int32_t kind;    // ProbeKind; kProbeUnknown when sigaction refused to say
  uint32_t flags;  // sa_flags without SA_RESTORER
  uint64_t mask;   // sa_mask (SetBits form)
};

struct ProbeSignal {
  int32_t signo;
  int32_t code;
  int32_t pid;
  int32_t value;
};

struct ProbeReport {
  uint32_t magic;
  ProbeAction action[kProbeMaxSignal + 1];                              // by signal number
  uint64_t blocked;                                                     // sigprocmask query
  uint64_t pending;                                                     // sigpending
  uint64_t status_cgt, status_ign, status_blk, status_pnd, status_shd;  // /proc/self/status
  int32_t ss_flags;                                                     // sigaltstack query
  uint32_t pad;
  uint64_t ss_size, ss_sp;
  int32_t child_reaped;  // -1 not asked; 0 its exited child was a zombie; 1 reaped by itself
  int32_t sfd_open;      // -1 not asked; 0 the descriptor is closed; 1 open
  int32_t nsfd;          // records read from the signalfd
  ProbeSignal sfd[32];
  int32_t ndeliveries;  // deliveries after unblocking (written in a second report)
  ProbeSignal deliveries[64];
};

struct ProbeOptions {
  int report_fd = -1;            // where the reports go (made inheritable for the exec)
  bool deliver = false;          // install recorders, unblock, send a second report
  bool deliver_default = false;  // unblock with the dispositions as exec left them
  int signalfd = -1;             // a signalfd to check and read (non-blocking)
  bool fork_child = false;       // fork a child that exits and see whether it is reaped
  bool exec = true;              // false: the probe reports from the fork child itself, no execve
};

// In the forked child: execve the probe (or, without `exec`, run it in
// place). Returns only on failure (126, 127).
int ExecProbe(const ProbeOptions& options);

// The usual way to run it: forks; the child runs `prepare` (which may fill
// in options, a signalfd say), says it is ready and waits; meanwhile the
// parent runs `before_exec(child)` (to send it signals); then the child
// becomes the probe. Reads up to `reports` reports and reaps the child.
struct ProbeRun {
  std::vector<ProbeReport> reports;
  int status = 0;  // the child's wait status
  pid_t pid = -1;
};
ProbeRun RunProbe(const std::function<void(ProbeOptions&)>& prepare, ProbeOptions options,
                  int reports, const Deadline& deadline,
                  const std::function<void(pid_t child)>& before_exec = nullptr);

// Reads one report; false at end of file, on a short or foreign report, or at
// the deadline.
bool ReadProbeReport(int fd, const Deadline& deadline, ProbeReport* out);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SIGNAL_SIGNAL_EXEC_PROBE_H_
