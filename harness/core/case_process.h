// harness/core/case_process.h (internal to harness/core): what the sandbox
// lets other parts of the core do in a case process, the process that runs a
// property's Run. Participants uses it to run one participant in the case
// process itself (Participants::RunHereAndJoin): a watcher thread must be able
// to end the case while that participant is still inside a call, and a fatal
// signal in it must still name the participant, as it would in a child.
//
//   if (internal::InCaseProcess()) {
//     internal::CrashLabel label("reader");   // SIGSEGV: "reader killed by SIGSEGV"
//     ...                                     // from another thread, on a hang:
//     internal::EndCaseNow(Verdict{Outcome::kTimeout, diagnosis});
//   }
#ifndef IPCSPEC_HARNESS_CORE_CASE_PROCESS_H_
#define IPCSPEC_HARNESS_CORE_CASE_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "ipcspec/sandbox.h"
#include "ipcspec/wire.h"

namespace ipcspec::internal {

// The case process reports on this descriptor: its facts (under lasting
// isolation, with the verdict), then its verdict and what it left.
constexpr int kReportFd = 3;

// What the case process tells the parent: the isolation it really got.
struct CaseFacts {
  IsolationFacts isolation;
  uid_t uid = static_cast<uid_t>(-1);
  bool own_uid = false;
};
std::string EncodeFacts(const CaseEnv& env);
bool DecodeFacts(WireReader& r, CaseFacts* f);
std::string EncodeVerdict(const Verdict& v, const std::vector<std::string>& leaks);
bool DecodeVerdict(std::string_view in, Verdict* v, std::vector<std::string>* leaks);

// The case process from its work on: `env` (which outlives the process's
// work) is what it reports with; InCaseProcess is true from here.
void BeginCaseWork(const CaseEnv& env);
// The case process after its work: what it left in a namespace of its own,
// then the report; never returns.
[[noreturn]] void FinishCase(const CaseEnv& env, const Verdict& verdict);

// Whether this process is a sandboxed case process that has its work.
bool InCaseProcess();

// Ends the case process now with `v` as its verdict: the report, then
// _exit. Callable from any thread of a case process.
[[noreturn]] void EndCaseNow(const Verdict& v);

// While it lives, a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
// SIGTRAP, SIGSYS) that has its default action ends the case as `crashed`
// with "<name> killed by <signal>", on an alternate stack, after killing and
// reaping `others` (the participants forked beside it), as Join would. A
// signal someone else handles (a sanitizer) is left to them. One at a time;
// in a case process.
class CrashLabel {
 public:
  CrashLabel(std::string_view name, const std::vector<pid_t>& others);
  ~CrashLabel();
  CrashLabel(const CrashLabel&) = delete;
  CrashLabel& operator=(const CrashLabel&) = delete;

 private:
  bool active_ = false;  // false in a nested label, or outside a case process
};

}  // namespace ipcspec::internal

#endif  // IPCSPEC_HARNESS_CORE_CASE_PROCESS_H_
