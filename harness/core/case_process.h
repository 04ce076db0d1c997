// harness/core/case_process.h (internal to harness/core): the case process's
// report to the process that forked it, and how the case process ends. The
// report is two frames on kReportFd: the case's facts (the isolation it got;
// written early unless the fork server's lasting isolation makes them known)
// and its verdict with what it left in a namespace of its own.
//
//   FinishCase(env, verdict);                       // in the case process: never returns
//   DecodeVerdict(frame, &verdict, &leaks);         // in the parent
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

// /dev/userfaultfd, opened by the case process before it gives up root
// (NewCaseUserfaultfd), or -1; participants keep it open.
int UserfaultfdDevice();

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

// How a process of the case that gave no verdict ended, from its wait
// status: "reader killed by SIGSEGV", "writer exited with status 3 without a
// verdict".
std::string DescribeEnd(std::string_view name, int status);

// The case process after its work: what it left in a namespace of its own,
// then the report; never returns.
[[noreturn]] void FinishCase(const CaseEnv& env, const Verdict& verdict);

}  // namespace ipcspec::internal

#endif  // IPCSPEC_HARNESS_CORE_CASE_PROCESS_H_
