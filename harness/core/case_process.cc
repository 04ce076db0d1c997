// The case process's side of the sandbox: its report (facts, verdict,
// leaks), and what lets a participant run in it (case_process.h).
#include "case_process.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ipcspec/inventory.h"
#include "isolation.h"

namespace ipcspec::internal {
namespace {

const CaseEnv* g_case_env = nullptr;  // set once the case process has its work
// Set by the first thread to end the case (EndCaseNow, or a fatal signal in
// a participant running here): one report, never two.
std::atomic<bool> g_ending{false};

// The report of a participant in the case process killed by a signal, made
// before it runs so that the signal handler only writes it.
constexpr std::array<int, 7> kFatalSignals = {SIGSEGV, SIGBUS,  SIGILL, SIGFPE,
                                              SIGABRT, SIGTRAP, SIGSYS};
struct Labelled {
  std::array<std::string, kFatalSignals.size()> reports;
  std::array<struct sigaction, kFatalSignals.size()> before{};
  std::array<bool, kFatalSignals.size()> ours{};
  stack_t old_stack{};
  // Killed and reaped before the report; through pidfds, since the watcher
  // thread may reap one meanwhile and its pid be reused.
  std::vector<std::pair<pid_t, FileDescriptor>> others;
};
Labelled* g_label = nullptr;
constexpr size_t kAltStackSize = 64 * 1024;
alignas(16) char g_alt_stack[kAltStackSize];

std::string Report(const CaseEnv& env, const Verdict& v, const std::vector<std::string>& leaks) {
  WireWriter report;
  if (LastingIsolation().active) report.Str(EncodeFacts(env));
  report.Str(EncodeVerdict(v, leaks));
  return report.Take();
}

void OnFatalSignal(int sig) {
  // Another thread is ending the case already: it exits the process.
  if (g_ending.exchange(true)) {
    for (;;) ::pause();
  }
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (kFatalSignals[i] != sig || g_label == nullptr) continue;
    const std::string& r = g_label->reports[i];
    WriteFull(kReportFd, r.data(), r.size());
  }
  if (g_label != nullptr) {
    for (const auto& [pid, pidfd] : g_label->others) {
      if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0) {
        ::waitpid(pid, nullptr, 0);
      }
    }
  }
  // Dies of it once the handler returns: the report is whole already.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

std::string EncodeFacts(const CaseEnv& env) {
  WireWriter w;
  w.U8(env.private_ipc);
  w.U8(env.private_shm);
  w.Str(env.mq_dir);
  w.U32(env.uid);
  w.U8(env.own_uid);
  return w.Take();
}

bool DecodeFacts(WireReader& r, CaseFacts* f) {
  uint8_t ipc, shm, own;
  uint32_t uid;
  if (!r.U8(&ipc) || !r.U8(&shm) || !r.Str(&f->isolation.mq_dir) || !r.U32(&uid) || !r.U8(&own)) {
    return false;
  }
  f->isolation.private_ipc = ipc != 0;
  f->isolation.private_shm = shm != 0;
  f->uid = uid;
  f->own_uid = own != 0;
  return true;
}

std::string EncodeVerdict(const Verdict& v, const std::vector<std::string>& leaks) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(v.outcome));
  w.Str(v.message);
  w.U32(static_cast<uint32_t>(leaks.size()));
  for (const std::string& l : leaks) w.Str(l);
  return w.Take();
}

bool DecodeVerdict(std::string_view in, Verdict* v, std::vector<std::string>* leaks) {
  WireReader r(in);
  uint8_t outcome;
  uint32_t n;
  if (!r.U8(&outcome) || outcome > static_cast<uint8_t>(Outcome::kSkipped) || !r.Str(&v->message) ||
      !r.U32(&n)) {
    return false;
  }
  v->outcome = static_cast<Outcome>(outcome);
  for (uint32_t i = 0; i < n; ++i) {
    std::string l;
    if (!r.Str(&l)) return false;
    leaks->push_back(std::move(l));
  }
  return true;
}

void BeginCaseWork(const CaseEnv& env) { g_case_env = &env; }

bool InCaseProcess() { return g_case_env != nullptr; }

void FinishCase(const CaseEnv& env, const Verdict& verdict) {
  // A namespace of the case's own dies with it: look before it does.
  const bool lasting = internal::LastingIsolation().active;
  std::vector<std::string> leaks;
  if (!lasting) {
    IsolationFacts mine{env.private_ipc, env.private_shm, env.mq_dir};
    for (const OwnedObject& o : internal::PrivateObjects(mine)) leaks.push_back(o.Describe());
  }
  RunChildExitHook();
  const std::string report = Report(env, verdict, leaks);
  WriteFull(kReportFd, report.data(), report.size());
  ::_exit(0);
}

void EndCaseNow(const Verdict& v) {
  if (g_case_env == nullptr) ::_exit(125);
  if (g_ending.exchange(true)) {
    for (;;) ::pause();  // a crash is being reported: that thread ends the process
  }
  FinishCase(*g_case_env, v);
}

CrashLabel::CrashLabel(std::string_view name, const std::vector<pid_t>& others) {
  if (g_case_env == nullptr || g_label != nullptr) return;
  auto* l = new Labelled();
  for (pid_t p : others) {
    FileDescriptor pidfd(PidfdOpen(p));
    if (pidfd) l->others.emplace_back(p, std::move(pidfd));
  }
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    l->reports[i] = Report(*g_case_env,
                           Verdict{Outcome::kCrashed, absl::StrCat(std::string(name), " killed by ",
                                                                   SignalName(kFatalSignals[i]))},
                           {});
  }
  stack_t alt{};
  alt.ss_sp = g_alt_stack;
  alt.ss_size = kAltStackSize;
  ::sigaltstack(&alt, &l->old_stack);
  g_label = l;
  active_ = true;
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    struct sigaction sa {};
    sa.sa_handler = OnFatalSignal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(kFatalSignals[i], nullptr, &l->before[i]) != 0 ||
        l->before[i].sa_handler != SIG_DFL || (l->before[i].sa_flags & SA_SIGINFO) != 0) {
      continue;  // handled by someone else (a sanitizer): theirs to report
    }
    l->ours[i] = ::sigaction(kFatalSignals[i], &sa, nullptr) == 0;
  }
}

CrashLabel::~CrashLabel() {
  if (!active_) return;
  Labelled* l = g_label;
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (l->ours[i]) ::sigaction(kFatalSignals[i], &l->before[i], nullptr);
  }
  ::sigaltstack(&l->old_stack, nullptr);
  g_label = nullptr;
  delete l;
}

}  // namespace ipcspec::internal
