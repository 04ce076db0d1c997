// The case process's side of the sandbox: its report (facts, verdict,
// leaks) and its end (case_process.h).
#include "case_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "isolation.h"

namespace ipcspec::internal {

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

std::string DescribeEnd(std::string_view name, int status) {
  if (WIFSIGNALED(status)) {
    // The two a transport raises itself, with what plugin.h says of them.
    const int sig = WTERMSIG(status);
    const std::string_view why =
        sig == SIGPIPE  ? " (a send to a peer that had gone: no call may raise SIGPIPE)"
        : sig == SIGHUP ? " (its controlling terminal hung up: a terminal opened without O_NOCTTY?)"
                        : "";
    return absl::StrCat(std::string(name), " killed by ", SignalName(sig), std::string(why));
  }
  return absl::StrFormat("%s exited with status %d without a verdict", name,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void FinishCase(const CaseEnv& env, const Verdict& verdict) {
  // A namespace of the case's own dies with it: look before it does.
  const bool lasting = LastingIsolation().active;
  std::vector<std::string> leaks;
  if (!lasting) {
    IsolationFacts mine{env.private_ipc, env.private_shm, env.mq_dir};
    for (const OwnedObject& o : PrivateObjects(mine)) leaks.push_back(o.Describe());
  }
  RunChildExitHook();
  WireWriter report;
  if (lasting) report.Str(EncodeFacts(env));
  report.Str(EncodeVerdict(verdict, leaks));
  WriteFull(kReportFd, report.data().data(), report.data().size());
  ::_exit(0);
}

}  // namespace ipcspec::internal
