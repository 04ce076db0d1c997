// The fork server (ForkServer): one process per run or lane that enters
// the case namespaces once and forks every case from there, each forked
// ahead of its request; and the private root its cases' scratch lives under
// (ServerRoot).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ipcspec/engine.h"
#include "ipcspec/wire.h"
#include "isolation.h"

extern "C" void __sanitizer_purge_allocator() __attribute__((weak));

namespace ipcspec {
namespace {

// The work of a fork server's case: a serialized scenario, parsed in the
// case process (a malformed one is that case's broken verdict).
Verdict RunScenarioBytes(std::string_view bytes, const CaseEnv& env) {
  absl::StatusOr<Scenario> s = Scenario::Parse(bytes);
  if (!s.ok()) return Verdict::Broken(std::string(s.status().message()));
  return RunScenario(*s, env);
}

// One request of the fork server: the options that vary per run, and the
// scenario. Answered with the encoded CaseResult. The case forked ahead
// (`next`) runs it when there is one; it is used up.
CaseResult ServeOne(const std::string& request, const SandboxOptions& options,
                    std::unique_ptr<PendingCase>& next) {
  WireReader in(request);
  uint64_t timeout_us = 0, unit_us = 0, grace_us = 0;
  std::string bytes;
  if (!in.U64(&timeout_us) || !in.U64(&unit_us) || !in.U64(&grace_us) || !in.Str(&bytes)) {
    CaseResult result;
    result.message = "malformed fork-server request";
    return result;
  }
  const CaseTiming timing = {absl::Microseconds(static_cast<int64_t>(timeout_us)),
                             absl::Microseconds(static_cast<int64_t>(unit_us)),
                             absl::Microseconds(static_cast<int64_t>(grace_us))};
  if (next != nullptr) {
    std::unique_ptr<PendingCase> pending = std::move(next);
    return std::move(*pending).Run(timing, bytes);
  }
  SandboxOptions o = options;
  return RunCase(o.set_timing(timing),
                 [&](const CaseEnv& env) { return RunScenarioBytes(bytes, env); });
}

// The next case, forked ahead of its request (none if the fork failed: the
// request then forks its own).
std::unique_ptr<PendingCase> ForkAhead(const SandboxOptions& options) {
  absl::StatusOr<std::unique_ptr<PendingCase>> next = PendingCase::Fork(options, &RunScenarioBytes);
  return next.ok() ? *std::move(next) : nullptr;
}

// Under a sanitizer, what the server frees stays in the allocator's
// quarantine, and every fork copies the page tables of all of it: a
// server that had served a few hundred cases forked at half the speed of a
// fresh one. Between cases the quarantine is emptied and the free memory
// given back. (A weak reference: the function is there only in a
// sanitized program.)
void KeepSmall() {
  if (&__sanitizer_purge_allocator != nullptr) __sanitizer_purge_allocator();
}

// The client ends of this process's fork servers, which a server forked
// later must not keep.
std::vector<int>& LiveServerEnds() {
  static std::vector<int> ends;
  return ends;
}

}  // namespace

ServerRoot ServerRoot::Make(const SandboxOptions& options) {
  ServerRoot r;
  if (!options.private_ipc) return r;
  // As root its cases may run as a user of their own, who must reach the
  // scratch directory under it. Not root, the server may mount it under a
  // user namespace of its own (or, where it cannot, leaves it empty).
  const bool root = ::geteuid() == 0;
  r.path_ = MakeTempDirIn(root && options.drop_privileges ? SearchableTempRoot() : TempRoot(),
                          "ipcspec-ns", 0711);
  struct stat st;
  if (!r.path_.empty() && ::lstat(r.path_.c_str(), &st) == 0) {
    r.dev_ = st.st_dev;
    r.ino_ = st.st_ino;
  }
  return r;
}

void ServerRoot::Remove() {
  struct stat st;
  if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
      st.st_dev == dev_ && st.st_ino == ino_) {
    ::rmdir(path_.c_str());
  }
  path_.clear();
}

ServerRoot& ServerRoot::operator=(ServerRoot&& o) noexcept {
  if (this != &o) {
    Remove();
    path_ = std::exchange(o.path_, "");
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

ServerRoot::~ServerRoot() { Remove(); }

absl::StatusOr<std::unique_ptr<ForkServer>> ForkServer::Start(const SandboxOptions& options,
                                                              const ServerRoot* given) {
  int req[2], resp[2];
  if (::pipe2(req, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "fork server");
  FileDescriptor req_r(req[0]), req_w(req[1]);
  if (::pipe2(resp, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "fork server");
  FileDescriptor resp_r(resp[0]), resp_w(resp[1]);
  ServerRoot own = given == nullptr ? ServerRoot::Make(options) : ServerRoot();
  const std::string& root = given == nullptr ? own.path() : given->path();
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", "fork server");
  if (pid == 0) {
    // First: the parent's death, even before the server has set up, is a
    // SIGTERM it handles, ending its loop (the requests end) and removing
    // the root the parent made (a SIGKILL here left it in TMPDIR).
    internal::EndWhenOrphaned(parent);
    // Out of the run's process group: a SIGKILL to the whole group
    // (`timeout -s KILL`) ends the run, whose death then reaches this
    // process as SIGTERM, and it cleans up.
    ::setpgid(0, 0);
    req_w.reset();
    resp_r.reset();
    // Nor the other servers' ends: a server that held one would keep it
    // from seeing its requests end.
    for (int fd : LiveServerEnds()) ::close(fd);
    // Once: the namespaces every case of this server runs in (the SIGTERM
    // handler stays).
    EnterLastingIsolation(options, root);
    // The next case is forked while the client reads the last result.
    std::unique_ptr<PendingCase> next = ForkAhead(options);
    std::string request;
    while (ReadFrame(req_r.get(), &request) == 0) {
      const std::string reply = EncodeCaseResult(ServeOne(request, options, next));
      if (WriteFrame(resp_w.get(), reply) != 0) break;
      KeepSmall();
      if (next == nullptr) next = ForkAhead(options);
    }
    next.reset();
    // Whoever ended the requests: a parent that died closed them before
    // the kernel told this process (its files go before its children are
    // handed on), so getppid() could not tell the two apart.
    internal::RemoveRoot(root);
    ::_exit(0);
  }
  LiveServerEnds().insert(LiveServerEnds().end(), {req_w.get(), resp_r.get()});
  auto server = std::unique_ptr<ForkServer>(
      new ForkServer(pid, std::move(req_w), std::move(resp_r), options));
  server->own_root_ = std::move(own);
  return server;
}

ForkServer::~ForkServer() {
  std::erase_if(LiveServerEnds(), [&](int fd) { return fd == to_.get() || fd == from_.get(); });
  to_.reset();
  from_.reset();
  ::waitpid(pid_, nullptr, 0);  // then own_root_ goes
}

CaseResult ForkServer::Run(const Scenario& s) {
  Start(s);
  return Finish();
}

void ForkServer::Start(const Scenario& s) {
  WireWriter w;
  CaseTiming timing = options_.timing();
  timing.timeout = CaseTimeoutOf(s, timing.timeout);
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.timeout)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.time_unit)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.hang_grace)));
  w.Str(s.Serialize());
  sent_ = WriteFrame(to_.get(), w.data()) == 0;
}

CaseResult ForkServer::Finish() {
  CaseResult r;
  std::string reply;
  if (!std::exchange(sent_, false) || ReadFrame(from_.get(), &reply) != 0 ||
      !DecodeCaseResult(reply, &r)) {
    r = CaseResult();
    r.outcome = Outcome::kBroken;
    r.message = "the fork server died";
  }
  return r;
}

}  // namespace ipcspec
