// RunMatrix: the pairs of a run, `jobs` at a time, each pair in a worker
// process of its own (rapidcheck keeps global state, so parallel pairs need
// processes, not threads). Each worker starts its own fork server first,
// while it is small, and answers "run pair i" with progress frames and the
// encoded PropertyResult. The parent only dispatches and collects, so the
// results, and their order, do not depend on `jobs`. When there are fewer
// pairs than jobs (one property on one transport, say), each worker starts
// jobs / pairs fork servers and spreads a pair's examples over them (the
// lanes of RunProperty), which gives the same result as one server.
//
// Dispatch order (never the results' order): pairs of properties that mostly
// sleep on clocks (Property::MostlyWaits, G-TIMEOUT) go to extra "waiter"
// workers, up to `jobs` of them, started at once beside the `jobs` busy ones,
// so their sleep overlaps the busy pairs instead of idling a CPU. The busy
// queue starts with pairs on polled transports (realtime=false), the slow
// ones, so that the run does not end on a long tail.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "ipcspec/engine.h"
#include "ipcspec/inventory.h"
#include "ipcspec/wire.h"

namespace ipcspec {
namespace {

constexpr uint8_t kProgressFrame = 'p';
constexpr uint8_t kResultFrame = 'r';

// The runners of a worker: a fork server on each root, or one runner that
// forks its cases itself when no server starts.
std::vector<std::unique_ptr<CaseRunner>> StartLanes(const MatrixOptions& options,
                                                    const std::vector<ServerRoot>& roots) {
  std::vector<std::unique_ptr<CaseRunner>> lanes;
  for (const ServerRoot& root : roots) {
    absl::StatusOr<std::unique_ptr<ForkServer>> server = ForkServer::Start(options.sandbox, &root);
    if (!server.ok()) break;
    lanes.push_back(*std::move(server));
  }
  if (lanes.empty()) lanes.push_back(std::make_unique<DirectRunner>(options.sandbox));
  return lanes;
}

// Runs the pairs it is sent until its request pipe closes; never returns.
[[noreturn]] void WorkerMain(const std::vector<PlannedPair>& pairs, const MatrixOptions& options,
                             const std::vector<ServerRoot>& roots, int requests, int replies,
                             pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
  // The parent decides when to stop (a signal to the whole process group,
  // as `timeout` sends, reaches it too).
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, SIG_IGN);
  std::vector<std::unique_ptr<CaseRunner>> lanes = StartLanes(options, roots);
  std::vector<CaseRunner*> runners;
  for (const auto& lane : lanes) runners.push_back(lane.get());
  std::string request;
  while (ReadFrame(requests, &request) == 0) {
    WireReader in(request);
    uint64_t index = 0;
    if (!in.U64(&index) || index >= pairs.size()) break;
    RunConfig config = pairs[index].config;
    if (options.on_progress) {
      config.on_example = [&](int n, bool shrinking) {
        WireWriter w;
        w.U8(kProgressFrame);
        w.U64(index);
        w.U32(static_cast<uint32_t>(n));
        w.U8(shrinking);
        WriteFrame(replies, w.data());
      };
    }
    PropertyResult r =
        RunProperty(*pairs[index].transport, *pairs[index].property, config, runners);
    WireWriter w;
    w.U8(kResultFrame);
    w.U64(index);
    w.Str(EncodePropertyResult(r));
    if (WriteFrame(replies, w.data()) != 0) break;
  }
  lanes.clear();  // the fork servers end before this process
  ::_exit(0);
}

struct Worker {
  pid_t pid = -1;
  std::vector<ServerRoot> roots;  // its servers' mounts; removed here, after it is reaped
  FileDescriptor to, from;
  std::optional<size_t> pair;  // the pair it runs
  bool waiter = false;         // takes only MostlyWaits pairs
};

absl::StatusOr<Worker> StartWorker(const std::vector<PlannedPair>& pairs,
                                   const MatrixOptions& options, size_t lanes) {
  int req[2], resp[2];
  if (::pipe2(req, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "worker");
  FileDescriptor req_r(req[0]), req_w(req[1]);
  if (::pipe2(resp, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "worker");
  FileDescriptor resp_r(resp[0]), resp_w(resp[1]);
  Worker w;
  // Made here: a SIGKILLed worker cannot remove them.
  for (size_t i = 0; i < lanes; ++i) w.roots.push_back(ServerRoot::Make(options.sandbox));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", "worker");
  if (pid == 0) {
    req_w.reset();
    resp_r.reset();
    WorkerMain(pairs, options, w.roots, req_r.get(), resp_w.get(), parent);
  }
  w.pid = pid;
  w.to = std::move(req_w);
  w.from = std::move(resp_r);
  return w;
}

// Kills every process below this one: the workers, then whatever their
// servers' cases left (they come back here, the subreaper).
void KillEverything(std::vector<Worker>& workers) {
  for (Worker& w : workers) {
    if (w.pid > 0) ::kill(w.pid, SIGKILL);
  }
  for (Worker& w : workers) {
    if (w.pid > 0) ::waitpid(w.pid, nullptr, 0);
    w.pid = -1;
  }
  for (int round = 0; round < 1000; ++round) {
    std::vector<pid_t> kids = ChildrenOfSelf();
    if (kids.empty()) break;
    for (pid_t p : kids) ::kill(p, SIGKILL);
    for (pid_t p : kids) ::waitpid(p, nullptr, 0);
  }
}

PropertyResult WorkerDied(const PlannedPair& p) {
  PropertyResult r;
  r.transport = std::string(p.transport->name());
  r.property = std::string(p.property->id());
  r.outcome = Outcome::kBroken;
  r.message = "the worker process running this pair died";
  return r;
}

// The dispatch loop of RunMatrix.
class Dispatcher {
 public:
  Dispatcher(const std::vector<PlannedPair>& pairs, const MatrixOptions& options, size_t lanes)
      : pairs_(pairs), options_(options), lanes_(lanes) {
    out_.results.resize(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (pairs[i].property->MostlyWaits()) waiting_.push_back(i);
    }
    for (bool polled : {true, false}) {
      for (size_t i = 0; i < pairs.size(); ++i) {
        if (!pairs[i].property->MostlyWaits() && pairs[i].transport->caps().realtime != polled) {
          pending_.push_back(i);
        }
      }
    }
  }

  absl::StatusOr<MatrixResult> Run(size_t jobs) {
    const size_t busy = std::min(jobs, std::max<size_t>(pending_.size(), 1));
    const size_t waiters = std::min(jobs, waiting_.size());
    for (size_t i = 0; i < busy + waiters; ++i) {
      absl::StatusOr<Worker> w = StartWorker(pairs_, options_, lanes_);
      if (!w.ok()) {
        KillEverything(workers_);
        return w.status();
      }
      w->waiter = i >= busy;
      workers_.push_back(*std::move(w));
    }
    for (Worker& w : workers_) Assign(w);
    while (done_ < pairs_.size()) {
      if (!Wait()) break;
    }
    for (Worker& w : workers_) w.to.reset();  // end of requests: the workers exit
    for (Worker& w : workers_) {
      if (w.pid > 0) ::waitpid(w.pid, nullptr, 0);
      w.pid = -1;
    }
    KillEverything(workers_);
    return std::move(out_);
  }

 private:
  // The next pair for `w`: a waiter takes only sleeping pairs; a busy
  // worker takes busy ones, then what sleeping ones are left.
  void Assign(Worker& w) {
    if (w.pid < 0) return;
    std::deque<size_t>* from = w.waiter || pending_.empty() ? &waiting_ : &pending_;
    if (from->empty()) return;
    const size_t i = from->front();
    WireWriter req;
    req.U64(i);
    if (WriteFrame(w.to.get(), req.data()) != 0) return;
    from->pop_front();
    w.pair = i;
  }

  void Finish(size_t i, PropertyResult r) {
    if (options_.on_result) options_.on_result(i, r);
    out_.results[i] = std::move(r);
    ++done_;
  }

  // One frame from a worker; false when it died.
  bool Receive(Worker& w) {
    std::string frame;
    WireReader in("");
    uint8_t type = 0;
    uint64_t index = 0;
    if (ReadFrame(w.from.get(), &frame) != 0) return false;
    in = WireReader(frame);
    if (!in.U8(&type) || !in.U64(&index) || index >= pairs_.size()) return false;
    if (type == kProgressFrame) {
      uint32_t n;
      uint8_t shrinking;
      if (in.U32(&n) && in.U8(&shrinking) && options_.on_progress) {
        options_.on_progress(index, static_cast<int>(n), shrinking != 0);
      }
      return true;
    }
    std::string bytes;
    PropertyResult r;
    if (!in.Str(&bytes) || !DecodePropertyResult(bytes, &r)) return false;
    w.pair.reset();
    Finish(index, std::move(r));
    Assign(w);
    return true;
  }

  // A worker that died: its pair is broken, and a new worker takes over.
  void Replace(Worker& w) {
    ::kill(w.pid, SIGKILL);
    ::waitpid(w.pid, nullptr, 0);
    w.pid = -1;
    if (w.pair) Finish(*w.pair, WorkerDied(pairs_[*w.pair]));
    w.pair.reset();
    absl::StatusOr<Worker> fresh = StartWorker(pairs_, options_, lanes_);
    if (!fresh.ok()) return;
    fresh->waiter = w.waiter;
    w = *std::move(fresh);
    Assign(w);
  }

  // Waits for frames or the stop descriptor; false when stopped or no
  // worker is left.
  bool Wait() {
    std::vector<struct pollfd> fds = {{options_.stop_fd, POLLIN, 0}};
    for (Worker& w : workers_) fds.push_back({w.pid > 0 ? w.from.get() : -1, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) return errno == EINTR;
    if (fds[0].revents != 0) {
      out_.stopped = true;
      KillEverything(workers_);
      return false;
    }
    bool any = false;
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].pid > 0 && fds[i + 1].revents != 0 && !Receive(workers_[i])) {
        Replace(workers_[i]);
      }
      any = any || workers_[i].pid > 0;
    }
    return any;
  }

  const std::vector<PlannedPair>& pairs_;
  const MatrixOptions& options_;
  const size_t lanes_;  // fork servers per worker
  std::vector<Worker> workers_;
  std::deque<size_t> pending_;  // busy pairs, polled transports first
  std::deque<size_t> waiting_;  // MostlyWaits pairs
  MatrixResult out_;
  size_t done_ = 0;
};

}  // namespace

absl::StatusOr<MatrixResult> RunMatrix(const std::vector<PlannedPair>& pairs,
                                       const MatrixOptions& options) {
  MatrixResult empty;
  if (pairs.empty()) return empty;
  const size_t asked = static_cast<size_t>(std::max(options.jobs, 1));
  const size_t jobs = std::clamp<size_t>(asked, 1, pairs.size());
  // Fewer pairs than jobs: each pair spreads its examples over the rest.
  const size_t lanes = std::max<size_t>(1, asked / pairs.size());
  // Orphans of the cases come back here, to be killed, whatever happens.
  int was_subreaper = 0;
  ::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  Dispatcher d(pairs, options, lanes);
  absl::StatusOr<MatrixResult> out = d.Run(jobs);
  ::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper);
  return out;
}

}  // namespace ipcspec
