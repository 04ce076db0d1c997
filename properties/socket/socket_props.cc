// UNIX-*: AF_UNIX stream, datagram and seqpacket sockets (bound paths in the
// scratch directory, or socketpair), checked with the socket calls directly.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_util.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace socket_props {

// AF_UNIX SOCK_STREAM, named or a socketpair.
Applicability ForUnixStream(const Transport& t) {
  return OnlyFor(t, {"unix_stream", "socketpair_stream"},
                 "UNIX-STREAM-ORDER checks AF_UNIX SOCK_STREAM");
}

class StreamOrderProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      auto sizes = *rc::gen::resize(
          20, rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 300000)));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      for (uint64_t c : *rc::gen::resize(
               4, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(ChunkSize())))) {
        steps.push_back(Step::Recv(0, c));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    const std::vector<uint64_t> sizes = SizesOf(s);
    std::vector<uint64_t> chunks = ChunksOf(s);
    if (chunks.empty()) chunks.push_back(4096);
    Participants ps(CaseDeadline(env));
    ps.Spawn("writer", [&]() -> Verdict {
      b.reset();
      for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<std::byte> p = Payload(1, i, sizes[i]);
        if (int rc = WriteFull(a.get(), p.data(), p.size()); rc != 0)
          return Verdict::Fail(absl::StrCat("write: ", Errno(rc)));
      }
      return Verdict::Pass();
    });
    a.reset();
    std::vector<std::byte> all;
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::vector<std::byte> p = Payload(1, i, sizes[i]);
      all.insert(all.end(), p.begin(), p.end());
    }
    std::vector<std::byte> got, buf(1 << 20);
    const Deadline d = CaseDeadline(env);
    size_t turn = 0;
    for (;;) {
      if (PollOne(b.get(), POLLIN, d) <= 0) return Verdict::Fail("timed out reading the stream");
      const size_t want = std::min<uint64_t>(chunks[turn++ % chunks.size()], buf.size());
      ssize_t n = ::read(b.get(), buf.data(), want);
      if (n < 0) return Verdict::Fail(absl::StrCat("read: ", ErrnoName(errno)));
      if (n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
      if (got.size() > all.size()) break;
    }
    if (Verdict v = ps.Join(); !v.ok()) return v;
    if (got.size() != all.size()) {
      return Verdict::Fail(absl::StrFormat("%d bytes arrived before end of file, %d were written",
                                           got.size(), all.size()));
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if (got[i] != all[i])
        return Verdict::Fail(
            absl::StrFormat("stream byte %d differs: out of order or corrupted", i));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(StreamOrderProperty, "UNIX-STREAM-ORDER", {.applies = ForUnixStream});

Applicability ForMessages(const Transport& t) {
  return OnlyFor(t, {"unix_dgram", "unix_seqpacket", "socketpair_dgram", "socketpair_seqpacket"},
                 "UNIX message boundaries: AF_UNIX SOCK_DGRAM / SOCK_SEQPACKET only");
}

class BoundaryProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const uint64_t lo = TypeOf(t) == SOCK_SEQPACKET ? 1 : 0;  // an empty seqpacket read is EOF
    return rc::gen::map(rc::gen::resize(20, rc::gen::container<std::vector<uint64_t>>(
                                                rc::gen::weightedOneOf<uint64_t>(
                                                    {{2, rc::gen::inRange<uint64_t>(lo, 64)},
                                                     {1, rc::gen::inRange<uint64_t>(lo, 60000)}}))),
                        [](const std::vector<uint64_t>& sizes) {
                          std::vector<Step> steps;
                          for (size_t i = 0; i < sizes.size(); ++i)
                            steps.push_back(Step::Send(1, sizes[i], i));
                          return steps;
                        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    const std::vector<uint64_t> sizes = SizesOf(s);
    Participants ps(CaseDeadline(env));
    ps.Spawn("sender", [&]() -> Verdict {
      b.reset();
      for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<std::byte> p = Payload(1, i, sizes[i]);
        ssize_t n = ::send(a.get(), p.data(), p.size(), MSG_NOSIGNAL);
        if (n != static_cast<ssize_t>(p.size())) {
          return Verdict::Fail(absl::StrFormat("send of message %d (%d bytes): %d %s", i, p.size(),
                                               n, ErrnoName(errno)));
        }
      }
      return Verdict::Pass();
    });
    a.reset();
    const Deadline d = CaseDeadline(env);
    std::vector<std::byte> buf(65536);
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (PollOne(b.get(), POLLIN, d) <= 0)
        return Verdict::Fail(absl::StrFormat("message %d never arrived", i));
      struct iovec iov = {buf.data(), buf.size()};
      struct msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      ssize_t n = ::recvmsg(b.get(), &mh, 0);
      if (n < 0) return Verdict::Fail(absl::StrCat("recvmsg: ", ErrnoName(errno)));
      std::vector<std::byte> got(buf.begin(), buf.begin() + n);
      if (std::string e = Check(got, 1, i, sizes[i]); !e.empty() || (mh.msg_flags & MSG_TRUNC)) {
        return Verdict::Fail(
            absl::StrFormat("receive %d: %s%s (message %d of %d bytes expected whole)", i, e,
                            (mh.msg_flags & MSG_TRUNC) ? " MSG_TRUNC" : "", i, sizes[i]));
      }
    }
    return ps.Join();
  }
};
IPCSPEC_REGISTER_PROPERTY(BoundaryProperty, "UNIX-BOUNDARY", {.applies = ForMessages});

class TruncProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t n = *rc::gen::inRange<uint64_t>(2, 60000);
      const uint64_t m = *rc::gen::inRange<uint64_t>(1, n);
      return std::vector<Step>{size_.Step(n), buffer_.Step(m),
                               trunc_flag_.Step(*rc::gen::inRange(0, 2))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t n = std::clamp<uint64_t>(size_.Of(s), 2, 60000);
    const uint64_t m = std::clamp<uint64_t>(buffer_.Of(s), 1, n - 1);
    const bool trunc_flag = trunc_flag_.Of(s);
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    std::vector<std::byte> first = Payload(1, 0, n), second = Payload(1, 1, 7);
    if (::send(a.get(), first.data(), n, 0) != static_cast<ssize_t>(n) ||
        ::send(a.get(), second.data(), 7, 0) != 7) {
      return Verdict::Broken(absl::StrCat("send: ", ErrnoName(errno)));
    }
    std::vector<std::byte> buf(n);
    struct iovec iov = {buf.data(), m};
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    const ssize_t got = ::recvmsg(b.get(), &mh, trunc_flag ? MSG_TRUNC : 0);
    const ssize_t want = trunc_flag ? static_cast<ssize_t>(n) : static_cast<ssize_t>(m);
    if (got != want || !(mh.msg_flags & MSG_TRUNC)) {
      return Verdict::Fail(absl::StrFormat(
          "%d-byte message into %d bytes%s: returned %d%s, expected %d with MSG_TRUNC", n, m,
          trunc_flag ? " with recv flag MSG_TRUNC" : "", got,
          (mh.msg_flags & MSG_TRUNC) ? " MSG_TRUNC" : " without MSG_TRUNC", want));
    }
    if (std::string e = Check(std::vector<std::byte>(buf.begin(), buf.begin() + m), 1, 0, m);
        !e.empty()) {
      return Verdict::Fail("the truncated head: " + e);
    }
    std::vector<std::byte> nbuf(64);
    const ssize_t next = ::recv(b.get(), nbuf.data(), nbuf.size(), MSG_DONTWAIT);
    if (next != 7 || Check(std::vector<std::byte>(nbuf.begin(), nbuf.begin() + 7), 1, 1, 7) != "") {
      return Verdict::Fail(absl::StrFormat(
          "after the truncated message the next receive gave %d bytes, not the next "
          "7-byte message (the rest was not discarded)",
          next));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the message has %s", 100};
  const BytesParam buffer_{this, 1, "the receive buffer has %s", 10};
  const Param<bool> trunc_flag_{this, 2, "recvmsg is given the MSG_TRUNC flag: %s", false,
                                SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(TruncProperty, "UNIX-TRUNC", {.applies = ForMessages});

Applicability ForConnected(const Transport& t, std::string_view why) {
  return OnlyFor(t, {"unix_stream", "unix_seqpacket", "socketpair_stream", "socketpair_seqpacket"},
                 why);
}

// A half-close: connected stream/seqpacket sockets.
Applicability ForHalfClose(const Transport& t) {
  return ForConnected(t, "a half-close is defined for connected stream/seqpacket sockets");
}

class ShutdownProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t n = std::clamp<uint64_t>(size_.Of(s), 1, 100000);
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    std::vector<std::byte> p = Payload(1, 0, n);
    Participants ps(CaseDeadline(env));
    ps.Spawn("closer", [&]() -> Verdict {
      b.reset();
      if (::send(a.get(), p.data(), p.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(n))
        return Verdict::Broken("send");
      if (::shutdown(a.get(), SHUT_WR) != 0) return Verdict::Broken("shutdown");
      if (::send(a.get(), p.data(), 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) {
        return Verdict::Fail(
            absl::StrCat("send after SHUT_WR: ", ErrnoName(errno), ", expected EPIPE"));
      }
      std::vector<std::byte> back(16);
      if (PollOne(a.get(), POLLIN, CaseDeadline(env)) <= 0 ||
          ::recv(a.get(), back.data(), back.size(), 0) != 5) {
        return Verdict::Fail("after SHUT_WR the reply from the peer did not arrive (half-close)");
      }
      // Its own SHUT_RD, the peer still open and nothing queued: a receive
      // is end of file at once, not EAGAIN (shutdown(2)).
      if (::shutdown(a.get(), SHUT_RD) != 0) return Verdict::Broken("shutdown(SHUT_RD)");
      const ssize_t r = ::recv(a.get(), back.data(), 1, MSG_DONTWAIT);
      if (r != 0) {
        return Verdict::Fail(absl::StrCat("recv after its own SHUT_RD, the peer still open: ",
                                          r < 0 ? ErrnoName(errno) : absl::StrCat(r, " bytes"),
                                          ", expected 0 (end of file)"));
      }
      return Verdict::Pass();
    });
    a.reset();
    std::vector<std::byte> got, buf(1 << 17);
    const Deadline d = CaseDeadline(env);
    for (;;) {
      if (PollOne(b.get(), POLLIN, d) <= 0)
        return Verdict::Fail("no end of file after the peer's SHUT_WR");
      ssize_t r = ::recv(b.get(), buf.data(), buf.size(), 0);
      if (r < 0) return Verdict::Fail(absl::StrCat("recv: ", ErrnoName(errno)));
      if (r == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + r);
    }
    if (std::string e = Check(got, 1, 0, n); !e.empty())
      return Verdict::Fail("before end of file: " + e);
    if (::send(b.get(), "reply", 5, MSG_NOSIGNAL) != 5)
      return Verdict::Fail("the half-closed peer could not be answered");
    return ps.Join();
  }

  const BytesParam size_{this, 0, "the closer sends %s before SHUT_WR", 100,
                         rc::gen::inRange<uint64_t>(1, 100000)};
};
IPCSPEC_REGISTER_PROPERTY(ShutdownProperty, "UNIX-SHUTDOWN", {.applies = ForHalfClose});

constexpr std::string_view kSigpipeWatches[] = {"blocked and taken from the pending set",
                                                "caught by a counting handler"};

// Counts SIGPIPEs raised by sends: blocked and drained, or caught by a
// counting handler. Restores the mask (and the action) on destruction.
class SigpipeWatch {
 public:
  explicit SigpipeWatch(bool caught) : caught_(caught), handler_(SIGPIPE) {
    const sigset_t pipe_set = SetOf({SIGPIPE});
    ::sigprocmask(caught_ ? SIG_UNBLOCK : SIG_BLOCK, &pipe_set, &old_);
    if (caught_) installed_ = handler_.Install() == 0;
    DrainPending(pipe_set);
  }
  ~SigpipeWatch() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  SigpipeWatch(const SigpipeWatch&) = delete;
  SigpipeWatch& operator=(const SigpipeWatch&) = delete;
  bool ok() const { return !caught_ || installed_; }
  // SIGPIPEs since the last call. A send raises its SIGPIPE on its own
  // thread before returning, so it is pending (or handled) by now.
  int Take() {
    if (!caught_) return DrainPending(SetOf({SIGPIPE}));
    const int now = handler_.count();
    const int fresh = now - seen_;
    seen_ = now;
    return fresh;
  }

 private:
  bool caught_;
  bool installed_ = false;
  SignalCounter handler_;
  int seen_ = 0;
  sigset_t old_;
};

// EPIPE: connected stream/seqpacket sockets.
Applicability ForEpipe(const Transport& t) {
  return ForConnected(t,
                      "EPIPE is for connected stream/seqpacket sockets (a datagram peer's close "
                      "gives ECONNREFUSED)");
}

class EpipeProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor a, b;
    if (Verdict v = Connect(t, env, &a, &b); !v.ok()) return v;
    b.reset();
    SigpipeWatch watch(caught_.Of(s));
    if (!watch.ok()) return Verdict::Broken(absl::StrCat("sigaction: ", ErrnoName(errno)));
    // Linux raises SIGPIPE for SOCK_STREAM only: a seqpacket send goes through
    // unix_dgram_sendmsg, which returns EPIPE without the signal (a known
    // divergence from POSIX send(2)); there only the EPIPE is checked.
    const int per_plain = TypeOf(t) == SOCK_STREAM ? 1 : 0;
    const int plain = std::clamp(plain_.Of(s), 0, 8), quiet = std::clamp(quiet_.Of(s), 0, 8);
    std::vector<bool> nosignal;  // the sends, in order
    for (int i = 0; i < plain + quiet; ++i) {
      nosignal.push_back(quiet_first_.Of(s) ? i < quiet : i >= plain);
    }
    for (size_t i = 0; i < nosignal.size(); ++i) {
      const char* how = nosignal[i] ? "send(MSG_NOSIGNAL)" : "send";
      const ssize_t n = ::send(a.get(), "x", 1, nosignal[i] ? MSG_NOSIGNAL : 0);
      const int err = errno;
      const int raised = watch.Take();
      if (n != -1 || err != EPIPE) {
        return Verdict::Fail(absl::StrFormat("%s %d to a closed peer: %s, expected EPIPE", how,
                                             i + 1, n >= 0 ? "succeeded" : ErrnoName(err)));
      }
      const int want = nosignal[i] ? 0 : per_plain;
      if (raised != want) {
        return Verdict::Fail(absl::StrFormat(
            "%s %d to a closed peer raised %d SIGPIPE, expected %d", how, i + 1, raised, want));
      }
    }
    return Verdict::Pass();
  }

  const Param<int> plain_{this, 0, "plain sends to the closed peer: %s", 2, rc::gen::inRange(1, 5)};
  const Param<int> quiet_{this, 1, "sends with MSG_NOSIGNAL: %s", 0, rc::gen::inRange(0, 4)};
  const ChoiceParam<bool> caught_{this, 2, "SIGPIPE is %s", false, kSigpipeWatches};
  const Param<bool> quiet_first_{
      this, 3, "the MSG_NOSIGNAL sends come first: %s", true, rc::gen::inRange(0, 2), SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(EpipeProperty, "UNIX-EPIPE", {.applies = ForEpipe});

}  // namespace socket_props
}  // namespace
}  // namespace ipcspec::props
