// What every registered transport costs, beside a bare pipe(2) measured in the
// same run: one-way throughput and round-trip latency at 64 B, 4 KiB and
// 64 KiB, so a report can put conformance and cost side by side.
//
//   throughput/<transport>/<size>: per iteration the parent sends a batch of
//     messages, the child receives all of it and acknowledges over a raw pipe
//     (nothing buffers without bound). bytes_per_second and msgs_per_s.
//   roundtrip/<transport>/<size>: one message parent -> child on one channel,
//     echoed child -> parent on a second channel. Time per iteration.
//   bare_pipe: the same with read(2)/write(2) on blocking pipes, no Transport.
//
// Counter transports (model counter, eventfd) carry 8-byte values and count
// sums, at size 8 (bare_pipe gets size 8 too); sizes above a transport's
// max_message are skipped with the reason. Unreliable transports (udp) use
// bounded waits and smaller batches; a lost datagram ends the run with an
// error instead of hanging it. Run: build/bench/bench/transport_bench
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_main.h"
#include "benchmark/benchmark.h"
#include "ipcspec/registry.h"
#include "ipcspec/transport.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

constexpr int kOpTimeoutMs = 5000;    // a reliable transport that stalls this long is broken
constexpr int kLossTimeoutMs = 300;   // an unreliable one: the datagram counts as lost
constexpr int kIdleSliceMs = 100;     // the child looks for a vanished parent this often
constexpr int kReapTimeoutMs = 3000;  // after that the child is SIGKILLed
constexpr size_t kBatchBytes = 256 * 1024;
constexpr size_t kMaxBatch = 64;
constexpr size_t kUnreliableBatchBytes = 64 * 1024;  // well inside a socket's receive buffer
constexpr std::byte kData{'D'};
constexpr std::byte kQuit{'Q'};                     // first byte of the message that ends the child
constexpr uint64_t kQuitValue = uint64_t{1} << 40;  // the same for counters
constexpr int kIdle = 1000;  // RecvUnits: nothing arrived within the first wait
constexpr int kQuitSeen = 1001;

// A bare pipe end: read(2)/write(2) on a blocking descriptor, timeouts ignored.
class RawEnd : public End {
 public:
  explicit RawEnd(FileDescriptor fd) : fd_(std::move(fd)) {}
  int Send(std::span<const std::byte> buf, size_t* sent, int) override {
    ssize_t n;
    do n = ::write(fd_.get(), buf.data(), buf.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    *sent = static_cast<size_t>(n);
    return 0;
  }
  int Recv(std::span<std::byte> buf, size_t* received, int) override {
    ssize_t n;
    do n = ::read(fd_.get(), buf.data(), buf.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if (n == 0) return kEnd;
    *received = static_cast<size_t>(n);
    return 0;
  }

 private:
  FileDescriptor fd_;
};

// What one benchmark moves.
struct Spec {
  const Transport* t = nullptr;  // nullptr: bare pipe
  size_t size = 0;
  bool counter = false;
  bool stream = true;
  bool reliable = true;
  size_t recv_buf = 0;
  size_t batch = 1;  // messages per throughput iteration
  int wait_ms = kOpTimeoutMs;
};

Spec MakeSpec(const Transport* t, size_t size) {
  Spec s;
  s.t = t;
  s.size = size;
  s.recv_buf = size;
  s.batch = std::clamp<size_t>(kBatchBytes / size, 1, kMaxBatch);
  if (t == nullptr) return s;
  const Capabilities& c = t->caps();
  s.counter = c.model == ModelClass::kCounter;
  s.stream = c.framing == Framing::kStream;
  s.reliable = c.reliable;
  if (!s.stream) s.recv_buf = std::max<size_t>(size, c.max_message);
  if (!s.reliable) {
    s.batch = std::clamp<size_t>(kUnreliableBatchBytes / (size + 1024), 1, s.batch);
    s.wait_ms = kLossTimeoutMs;
  }
  return s;
}

std::string Err(int rc) { return rc == kEnd ? "END" : absl::StrCat("-", ErrnoName(-rc)); }

int SendValue(End& e, uint64_t v, int timeout_ms) {
  size_t n = 0;
  int rc = e.Send(std::as_bytes(std::span(&v, 1)), &n, timeout_ms);
  return rc != 0 ? rc : (n == sizeof v ? 0 : -EMSGSIZE);
}

// One message: whole for message transports, as many sends as it takes for streams.
int SendMessage(End& e, const Spec& s, std::span<const std::byte> msg, int timeout_ms) {
  if (s.counter) return SendValue(e, msg[0] == kQuit ? kQuitValue : 1, timeout_ms);
  size_t off = 0;
  while (off < msg.size()) {
    size_t n = 0;
    if (int rc = e.Send(msg.subspan(off), &n, timeout_ms); rc != 0) return rc;
    if (!s.stream) return n == msg.size() ? 0 : -EMSGSIZE;
    off += n;
  }
  return 0;
}

// Receives `count` messages (bytes of a stream, whole messages, or a counter
// sum). The first receive waits first_ms (kIdle if nothing came), the rest
// s.wait_ms. 0, kQuitSeen or the failing Recv code.
int RecvMessages(End& e, const Spec& s, uint64_t count, std::vector<std::byte>& buf, int first_ms) {
  const uint64_t want = s.stream && !s.counter ? count * s.size : count;
  uint64_t got = 0;
  for (bool first = true; got < want; first = false) {
    const int timeout = first ? first_ms : s.wait_ms;
    size_t n = 0;
    int rc;
    if (s.counter) {
      uint64_t v = 0;
      rc = e.Recv(std::as_writable_bytes(std::span(&v, 1)), &n, timeout);
      if (rc == 0 && v >= kQuitValue) return kQuitSeen;
      got += v;
    } else {
      const size_t cap = s.stream ? std::min<uint64_t>(buf.size(), want - got) : buf.size();
      rc = e.Recv(std::span(buf).first(cap), &n, timeout);
      if (rc == 0 && n > 0 && buf[0] == kQuit) return kQuitSeen;
      if (rc == 0 && !s.stream && n != s.size) return -EBADMSG;
      got += s.stream ? n : 1;
    }
    if (rc == -ETIMEDOUT && first) return kIdle;
    if (rc != 0) return rc;
  }
  return 0;
}

bool Gone(int fd) {  // the parent closed the control pipe
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void Report(int fd, const std::string& what) {
  std::string m = "E" + what;
  WriteFull(fd, m.data(), m.size());
}

// The child's part: receive, then acknowledge (throughput) or echo (round trip).
int ChildLoop(const Spec& s, bool roundtrip, End& rx, End* tx, int ctl, int ack) {
  std::vector<std::byte> buf(s.recv_buf), echo(s.size, kData);
  const uint64_t count = roundtrip ? 1 : s.batch;
  for (;;) {
    int rc = RecvMessages(rx, s, count, buf, kIdleSliceMs);
    if (rc == kIdle) {
      if (Gone(ctl)) return 0;
      continue;
    }
    if (rc == kQuitSeen || (rc == kEnd && Gone(ctl))) return 0;
    if (rc != 0) {
      Report(ack, absl::StrCat("child receive: ", Err(rc), s.reliable ? "" : " (datagram lost?)"));
      return 1;
    }
    if (roundtrip) {
      rc = SendMessage(*tx, s, echo, s.wait_ms);
      if (rc != 0) {
        Report(ack, absl::StrCat("child echo: ", Err(rc)));
        return 1;
      }
    } else if (WriteFull(ack, "A", 1) != 0) {
      return 1;
    }
  }
}

// Two processes joined by one channel (throughput) or two (round trip), plus
// raw control pipes: ctl (parent -> child, closed to say "gone") and ack.
class Session {
 public:
  // "" or why it could not start. Finish() must be called either way.
  std::string Start(const Spec& s, bool roundtrip) {
    spec_ = s;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
    ctl_r_.reset(p[0]);
    ctl_w_.reset(p[1]);
    if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
    ack_r_.reset(p[0]);
    ack_w_.reset(p[1]);
    FileDescriptor bare[2][2];  // [channel][0 read, 1 write]
    const int channels = roundtrip ? 2 : 1;
    if (s.t != nullptr) {
      char tmpl[] = "/tmp/ipcspec-bench-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
      dir_ = tmpl;
      for (int i = 0; i < channels; ++i) {
        absl::StatusOr<std::unique_ptr<Channel>> ch = s.t->Create(dir_);
        if (!ch.ok()) return absl::StrCat("create: ", ch.status().message());
        ch_[i] = *std::move(ch);
      }
    } else {
      for (int i = 0; i < channels; ++i) {
        if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
        bare[i][0].reset(p[0]);
        bare[i][1].reset(p[1]);
      }
    }
    pid_ = ::fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ctl_w_.reset();
      ack_r_.reset();
      std::unique_ptr<End> rx, tx;  // channel 0 in, channel 1 out
      if (std::string e = OpenEnds(bare, channels, 0, &rx, &tx); !e.empty()) {
        Report(ack_w_.get(), "child " + e);
        ::_exit(1);
      }
      int code = ChildLoop(spec_, roundtrip, *rx, tx.get(), ctl_r_.get(), ack_w_.get());
      rx.reset();
      tx.reset();
      ::_exit(code);
    }
    ctl_r_.reset();
    ack_w_.reset();
    return OpenEnds(bare, channels, 1, &rx_, &tx_);
  }

  End& tx() { return *tx_; }
  End& rx() { return *rx_; }
  int ack() const { return ack_r_.get(); }

  // Ends the child (quit message, then close), reaps it, destroys the
  // channels. "" or the first thing that went wrong.
  std::string Finish() {
    std::string err;
    if (pid_ > 0) {
      ctl_w_.reset();  // first, so an end of stream is not taken for a failure
      if (spec_.t != nullptr && tx_ != nullptr) {
        std::vector<std::byte> quit(spec_.counter ? 8 : spec_.size, kData);
        quit[0] = kQuit;
        SendMessage(*tx_, spec_, quit, kIdleSliceMs);
      }
      tx_.reset();
      rx_.reset();
      std::string said;  // whatever the child reported, until it exits
      const Deadline d = Deadline::After(absl::Milliseconds(kReapTimeoutMs));
      char buf[256];
      bool exited = false;
      while (!exited && PollOne(ack_r_.get(), POLLIN, d) > 0) {
        ssize_t n = ::read(ack_r_.get(), buf, sizeof buf);
        if (n > 0) said.append(buf, static_cast<size_t>(n));
        exited = n <= 0;
      }
      if (!exited) {
        ::kill(pid_, SIGKILL);
        err = "child did not exit; killed";
      }
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
      if (size_t e = said.find('E'); e != std::string::npos && err.empty()) {
        err = said.substr(e + 1);
      }
    }
    tx_.reset();
    rx_.reset();
    for (auto& ch : ch_) {
      if (ch == nullptr) continue;
      absl::Status st = ch->Destroy();
      if (!st.ok() && err.empty()) err = absl::StrCat("destroy: ", st.message());
      ch.reset();
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
    return err;
  }

 private:
  // side 0 (child): reads channel 0, writes channel 1; side 1 (parent) the
  // opposite. Readers first, so a FIFO writer finds its reader.
  std::string OpenEnds(FileDescriptor (&bare)[2][2], int channels, int side,
                       std::unique_ptr<End>* rx, std::unique_ptr<End>* tx) {
    const int in = side == 0 ? 0 : 1, out = 1 - in;
    const bool has_in = in < channels, has_out = out < channels;
    if (spec_.t == nullptr) {
      if (has_in) *rx = std::make_unique<RawEnd>(std::move(bare[in][0]));
      if (has_out) *tx = std::make_unique<RawEnd>(std::move(bare[out][1]));
      for (auto& ch : bare)
        for (auto& fd : ch) fd.reset();
      return "";
    }
    std::string err;
    if (has_in) {
      absl::StatusOr<std::unique_ptr<End>> e = ch_[in]->Open(Role::kReader);
      if (e.ok())
        *rx = *std::move(e);
      else
        err = absl::StrCat("open(reader): ", e.status().message());
    }
    if (has_out && err.empty()) {
      absl::StatusOr<std::unique_ptr<End>> e = ch_[out]->Open(Role::kWriter);
      if (e.ok())
        *tx = *std::move(e);
      else
        err = absl::StrCat("open(writer): ", e.status().message());
    }
    for (int i = 0; i < channels; ++i) ch_[i]->Detach();
    return err;
  }

  Spec spec_;
  std::string dir_;
  std::unique_ptr<Channel> ch_[2];
  std::unique_ptr<End> rx_, tx_;
  FileDescriptor ctl_r_, ctl_w_, ack_r_, ack_w_;
  pid_t pid_ = -1;
};

void BM_Transport(benchmark::State& state, const Transport* t, size_t size, bool roundtrip) {
  const Spec s = MakeSpec(t, size);
  if (t != nullptr && t->caps().max_message != 0 && size > t->caps().max_message) {
    state.SkipWithError(absl::StrCat("max_message is ", t->caps().max_message).c_str());
    return;
  }
  Session session;
  std::string err = session.Start(s, roundtrip);
  std::vector<std::byte> msg(size, kData), buf(s.recv_buf);
  if (err.empty()) {
    for (auto _ : state) {
      if (roundtrip) {
        if (int rc = SendMessage(session.tx(), s, msg, s.wait_ms); rc != 0) {
          err = absl::StrCat("send: ", Err(rc));
          break;
        }
        if (int rc = RecvMessages(session.rx(), s, 1, buf, s.wait_ms); rc != 0) {
          err = absl::StrCat("receive echo: ", rc == kIdle ? "timed out" : Err(rc),
                             s.reliable ? "" : " (datagram lost)");
          break;
        }
        continue;
      }
      for (size_t i = 0; i < s.batch && err.empty(); ++i) {
        if (int rc = SendMessage(session.tx(), s, msg, s.wait_ms); rc != 0) {
          err = absl::StrCat("send: ", Err(rc));
        }
      }
      if (!err.empty()) break;
      char a = 0;
      const Deadline d = Deadline::After(absl::Milliseconds(2 * kOpTimeoutMs));
      if (PollOne(session.ack(), POLLIN, d) <= 0 || ::read(session.ack(), &a, 1) != 1 || a != 'A') {
        err = "no acknowledgement from the child";  // the child's reason comes from Finish
        break;
      }
    }
  }
  std::string fin = session.Finish();
  if (!fin.empty()) err = err.empty() ? fin : absl::StrCat(err, "; ", fin);
  if (!err.empty()) {
    state.SkipWithError(err.c_str());
    return;
  }
  if (!roundtrip) {
    const auto messages = static_cast<int64_t>(state.iterations() * s.batch);
    state.SetBytesProcessed(messages * static_cast<int64_t>(s.counter ? 8 : size));
    state.counters["msgs_per_s"] =
        benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
  }
}

void RegisterAll() {
  std::vector<const Transport*> all = TransportRegistry::Global().All();
  const bool any_counter = std::any_of(all.begin(), all.end(), [](const Transport* t) {
    return t->caps().model == ModelClass::kCounter;
  });
  all.insert(all.begin(), nullptr);
  for (const Transport* t : all) {
    const bool counter = t != nullptr ? t->caps().model == ModelClass::kCounter : any_counter;
    std::vector<size_t> sizes = {64, 4096, 65536};
    if (counter) sizes.insert(sizes.begin(), 8);
    const std::string name = t != nullptr ? std::string(t->name()) : "bare_pipe";
    for (bool roundtrip : {false, true}) {
      for (size_t size : sizes) {
        benchmark::RegisterBenchmark(
            absl::StrCat(roundtrip ? "roundtrip/" : "throughput/", name, "/", size).c_str(),
            [t, size, roundtrip](benchmark::State& st) { BM_Transport(st, t, size, roundtrip); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

void bench::RegisterBenchmarks() { RegisterAll(); }

}  // namespace ipcspec
