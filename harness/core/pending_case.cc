// PendingCase: a case process forked ahead of its work, set up, asleep
// until the work arrives on its go socket (ipcspec/sandbox.h).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case_plan.h"
#include "case_process.h"
#include "ipcspec/wire.h"
#include "isolation.h"

namespace ipcspec {
namespace {

using internal::AdoptCase;
using internal::CasePlan;
using internal::ClearScratch;
using internal::FinishCase;
using internal::kGoFd;
using internal::PrepareCase;
using internal::SetTiming;
using internal::SetUpCase;
using internal::WatchCase;

// What a case forked ahead is given when its turn comes.
std::string EncodeGo(absl::Time deadline, const CaseTiming& timing, std::string_view work) {
  WireWriter w;
  w.U64(static_cast<uint64_t>(absl::ToUnixNanos(deadline)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Nanoseconds(timing.time_unit)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Nanoseconds(timing.hang_grace)));
  w.Str(work);
  return w.Take();
}

// A case forked ahead: set up, then asleep until its work comes (or its
// channel closes: a case never used ends quietly); never returns.
[[noreturn]] void PendingMain(const SandboxOptions& options, PendingCase::Work work,
                              const CasePlan& plan, pid_t parent) {
  CaseEnv env;
  SetUpCase(options, plan, parent, &env);
  std::string go, what;
  uint64_t deadline_ns, unit_ns, grace_ns;
  if (ReadFrame(kGoFd, &go) != 0) ::_exit(0);
  ::close(kGoFd);
  WireReader r(go);
  if (!r.U64(&deadline_ns) || !r.U64(&unit_ns) || !r.U64(&grace_ns) || !r.Str(&what)) {
    FinishCase(env, Verdict::Broken("a malformed go message"));
  }
  SetTiming(&env, absl::FromUnixNanos(static_cast<int64_t>(deadline_ns)),
            absl::Nanoseconds(static_cast<int64_t>(unit_ns)),
            absl::Nanoseconds(static_cast<int64_t>(grace_ns)));
  FinishCase(env, work(what, env));
}

}  // namespace

struct PendingCase::State {
  SandboxOptions options;
  CasePlan plan;
  pid_t pid = -1;
};

absl::StatusOr<std::unique_ptr<PendingCase>> PendingCase::Fork(const SandboxOptions& options,
                                                               Work work) {
  if (!internal::LastingIsolation().signals_clean) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto state = std::make_unique<State>();
  state->options = options;
  CaseResult failed;
  if (!PrepareCase(options, /*ahead=*/true, &state->plan, &failed)) {
    if (!state->plan.scratch.empty()) ClearScratch(state->plan);
    return absl::InternalError(failed.message);
  }
  const pid_t parent = ::getpid();
  state->pid = ::fork();
  if (state->pid < 0) {
    ClearScratch(state->plan);
    return ErrnoStatus("fork", "a case ahead of its work");
  }
  if (state->pid == 0) PendingMain(options, work, state->plan, parent);
  AdoptCase(state->pid, state->plan);
  return std::unique_ptr<PendingCase>(new PendingCase(std::move(state)));
}

PendingCase::PendingCase(std::unique_ptr<State> state) : state_(std::move(state)) {}

PendingCase::~PendingCase() {
  if (state_ == nullptr) return;
  // Never given work: it ends quietly, and its scratch goes with it.
  ::kill(-state_->pid, SIGKILL);
  ::kill(state_->pid, SIGKILL);
  ::waitpid(state_->pid, nullptr, 0);
  ClearScratch(state_->plan);
}

CaseResult PendingCase::Run(const CaseTiming& timing, std::string_view work) && {
  std::unique_ptr<State> state = std::move(state_);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timing.timeout;
  state->plan.board->Reset(timing.hang_grace, start, deadline);
  WireWriter frame;
  frame.Str(EncodeGo(deadline, timing, work));
  const std::string& bytes = frame.data();
  // A case that died before its work (it could not drop privileges, say)
  // has said why in its report: what is not sent is not needed.
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n =
        ::send(state->plan.go_w.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  state->plan.go_w.reset();
  SandboxOptions o = state->options;
  return WatchCase(o.set_timing(timing), state->plan, state->pid, start, deadline);
}

}  // namespace ipcspec
