// harness/core/case_plan.h (internal to harness/core): the halves of running
// one case that RunCase (sandbox.cc) and PendingCase (pending_case.cc)
// share. Before the fork the parent prepares a CasePlan (PrepareCase); the
// case process sets itself up from it (SetUpCase, SetTiming); after the fork
// the parent adopts it (AdoptCase) and watches it to its end, finding what it
// left (WatchCase, case_watch.cc).
//
//   CasePlan plan;
//   if (!PrepareCase(options, /*ahead=*/false, &plan, &result)) return result;
//   pid_t pid = fork();
//   if (pid == 0) { SetUpCase(options, plan, parent, &env); ... }
//   AdoptCase(pid, plan);
//   return WatchCase(options, plan, pid, start, deadline);
#ifndef IPCSPEC_HARNESS_CORE_CASE_PLAN_H_
#define IPCSPEC_HARNESS_CORE_CASE_PLAN_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ipcspec/inventory.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/watch.h"

namespace ipcspec::internal {

// A case forked ahead of its work reads it here (PendingCase).
constexpr int kGoFd = 4;
// Each case runs under its own uid, derived from its pid, so RLIMIT_NPROC
// counts only its processes and what it leaves in /dev/shm is attributable.
constexpr uid_t kCaseUidBase = 1'500'000'000;

// What the parent prepared for one case.
struct CasePlan {
  std::string scratch;
  std::string mq_dir;  // per-case mqueue mount point (no lasting isolation, root)
  IpcSnapshot before;  // what is shared with the case, before it ran
  uint32_t tag = 0;
  FileDescriptor report_r, report_w, out_r, out_w;
  FileDescriptor go_r, go_w;  // a case forked ahead: its work comes on go_r
  bool own_uid = false;
  // The case's watch board (ipcspec/watch.h): shared with the case process
  // and its participants, watched from here. Reset before the case runs.
  std::shared_ptr<WatchBoard> board;
};

// The parent's part before the fork: scratch directory, mqueue mount point,
// what the case shares with us as it is now, the pipes (and, for a case
// forked `ahead` of its work, its go channel). False with result->message set.
bool PrepareCase(const SandboxOptions& options, bool ahead, CasePlan* plan, CaseResult* result);

// The case process up to its work: entered, confined, tied to its parent,
// its facts told when the parent needs them first. Exits (with a broken
// verdict sent) when the case cannot run.
void SetUpCase(const SandboxOptions& options, const CasePlan& plan, pid_t parent, CaseEnv* env);
// The timing of a case: SandboxOptions' share that reaches the case.
void SetTiming(CaseEnv* env, absl::Time deadline, absl::Duration unit, absl::Duration grace);

// The parent's part right after the fork.
void AdoptCase(pid_t pid, CasePlan& plan);
// The parent's part after the fork: the case process started at `start` is
// watched to its end, then everything it left is found and removed.
CaseResult WatchCase(const SandboxOptions& options, CasePlan& plan, pid_t pid, absl::Time start,
                     absl::Time deadline);
// The file-system nodes left in the scratch directory, which is removed.
std::vector<std::string> ClearScratch(const CasePlan& plan);

}  // namespace ipcspec::internal

#endif  // IPCSPEC_HARNESS_CORE_CASE_PLAN_H_
