// INET-TCP-STREAM, INET-TCP-RESET, INET-UDP-BOUNDARY: TCP and UDP on
// loopback (the fork-per-connection servers are in socket_server.cc).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/socket/socket_server.h"
#include "properties/socket/socket_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace socket_inet {

// Reads until end of file or the deadline; false on timeout or error.
bool ReadToEnd(int fd, const Deadline& d, std::vector<std::byte>* out, std::string* err) {
  std::vector<std::byte> buf(1 << 16);
  for (;;) {
    if (PollOne(fd, POLLIN, d) <= 0) {
      *err = "timed out";
      return false;
    }
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      *err = ErrnoName(errno);
      return false;
    }
    if (n == 0) return true;
    out->insert(out->end(), buf.begin(), buf.begin() + n);
  }
}

std::vector<std::byte> Concat(const std::vector<uint64_t>& sizes, uint32_t writer) {
  std::vector<std::byte> all;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<std::byte> p = Payload(writer, i, sizes[i]);
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

Applicability ForTcp(const Transport& t) {
  return OnlyFor(t, {"tcp"}, "INET-TCP-* checks TCP itself");
}

class TcpStreamProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps;
      auto sizes = *rc::gen::resize(
          12, rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 200000)));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      steps.push_back(reply_.Step(*rc::gen::inRange<uint64_t>(0, 100000)));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<uint64_t> sizes = SizesOf(s);
    const uint64_t reply = std::min<uint64_t>(reply_.Of(s), 100000);
    sockaddr_in addr;
    FileDescriptor listener = Loopback(SOCK_STREAM, &addr);
    if (!listener || ::listen(listener.get(), 4) != 0) return Verdict::Broken("tcp listen");
    const Deadline d = CaseDeadline(env);
    Participants ps(d);
    ps.Spawn("client", [&]() -> Verdict {
      listener.reset();
      FileDescriptor c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return Verdict::Broken("connect");
      std::vector<std::byte> all = Concat(sizes, 1);
      if (int rc = WriteFull(c.get(), all.data(), all.size()); rc != 0)
        return Verdict::Fail(absl::StrCat("write: ", Errno(rc)));
      if (::shutdown(c.get(), SHUT_WR) != 0) return Verdict::Broken("shutdown");
      std::vector<std::byte> got;
      std::string err;
      if (!ReadToEnd(c.get(), d, &got, &err))
        return Verdict::Fail("after SHUT_WR, reading the reply: " + err);
      return PassUnless(Check(got, 2, 0, reply), "the reply after half-close: ");
    });
    FileDescriptor conn;
    if (PollOne(listener.get(), POLLIN, d) > 0)
      conn = FileDescriptor(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return Verdict::Broken("accept");
    std::vector<std::byte> got;
    std::string err;
    if (!ReadToEnd(conn.get(), d, &got, &err))
      return Verdict::Fail("no end of file after the client's SHUT_WR: " + err);
    const std::vector<std::byte> all = Concat(sizes, 1);
    if (got.size() != all.size())
      return Verdict::Fail(absl::StrFormat("%d bytes arrived, %d sent", got.size(), all.size()));
    for (size_t i = 0; i < all.size(); ++i) {
      if (got[i] != all[i]) return Verdict::Fail(absl::StrFormat("stream byte %d differs", i));
    }
    std::vector<std::byte> r = Payload(2, 0, reply);
    if (int rc = WriteFull(conn.get(), r.data(), r.size()); rc != 0)
      return Verdict::Fail(absl::StrCat("reply: ", Errno(rc)));
    conn.reset();
    return ps.Join();
  }

  const SendWords sends_{this, "the client writes piece %d: %s"};
  const BytesParam reply_{this, 0, "the server's reply after the half-close has %s", 10};
};
IPCSPEC_REGISTER_PROPERTY(TcpStreamProperty, "INET-TCP-STREAM", {.applies = ForTcp});

class TcpResetProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t unread = std::clamp<uint64_t>(unread_.Of(s), 1, 100000);
    sockaddr_in addr;
    FileDescriptor listener = Loopback(SOCK_STREAM, &addr);
    if (!listener || ::listen(listener.get(), 4) != 0) return Verdict::Broken("tcp listen");
    const Deadline d = CaseDeadline(env);
    FileDescriptor c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return Verdict::Broken("connect");
    FileDescriptor conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return Verdict::Broken("accept");
    std::vector<std::byte> p = Payload(1, 0, unread);
    if (int rc = WriteFull(c.get(), p.data(), p.size()); rc != 0) return Verdict::Broken("write");
    // Received but unread data at close(2) is what makes the reset (RFC 2525
    // 2.17), so the close waits only until some has arrived.
    if (PollOne(conn.get(), POLLIN, d) <= 0)
      return Verdict::Broken("the client's data never reached the server");
    conn.reset();
    if (PollOne(c.get(), POLLIN | POLLERR | POLLHUP, d) <= 0)
      return Verdict::Fail("nothing reached the peer after the close");
    char buf[16];
    const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
    if (n != -1 || errno != ECONNRESET) {
      return Verdict::Fail(absl::StrFormat(
          "after the peer closed with %d unread bytes, recv gave %d %s, expected ECONNRESET",
          unread, n, n < 0 ? ErrnoName(errno) : ""));
    }
    return Verdict::Pass();
  }

  const BytesParam unread_{this, 0, "the client writes %s that the server never reads", 10,
                           rc::gen::inRange<uint64_t>(1, 100000)};
};
IPCSPEC_REGISTER_PROPERTY(TcpResetProperty, "INET-TCP-RESET", {.applies = ForTcp});

Applicability ForUdp(const Transport& t) {
  return OnlyFor(t, {"udp"}, "INET-UDP-* checks UDP itself");
}

class UdpBoundaryProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(
        rc::gen::resize(
            20,
            rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                rc::gen::weightedOneOf<uint64_t>({{2, rc::gen::inRange<uint64_t>(0, 64)},
                                                  {1, rc::gen::inRange<uint64_t>(0, 65508)}})))),
        [](const std::vector<uint64_t>& sizes) {
          std::vector<Step> steps;
          for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
          return steps;
        });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<uint64_t> sizes = SizesOf(s);
    sockaddr_in raddr, saddr;
    FileDescriptor r = Loopback(SOCK_DGRAM, &raddr), w = Loopback(SOCK_DGRAM, &saddr);
    if (!r || !w) return Verdict::Broken(absl::StrCat("udp bind: ", ErrnoName(errno)));
    int big = 4 << 20;
    ::setsockopt(r.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    SetNonBlocking(r.get(), true);
    auto send_to = [&](const std::vector<std::byte>& p) {
      return ::sendto(w.get(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&raddr),
                      sizeof raddr) == static_cast<ssize_t>(p.size());
    };
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (!send_to(Payload(1, i, sizes[i])))
        return Verdict::Broken(absl::StrCat("sendto: ", ErrnoName(errno)));
    }
    // Then a marker, sent again after each drain until it arrives: what
    // arrives before it is checked, what never arrives was lost (allowed).
    const std::vector<std::byte> marker = Payload(kMarkerWriter, 0, 9);
    std::vector<bool> seen(sizes.size());
    const Deadline d = CaseDeadline(env);
    for (;;) {
      if (!send_to(marker)) return Verdict::Broken(absl::StrCat("sendto: ", ErrnoName(errno)));
      if (PollOne(r.get(), POLLIN, d) <= 0) return Verdict::Broken("nothing ever arrived");
      bool marked = false;
      if (std::string e = DrainAndCheck(r.get(), sizes, &seen, &marked); !e.empty())
        return Verdict::Fail(e);
      if (marked) return Verdict::Pass();
    }
  }

  const SendWords sends_{this, "sendto of datagram %d: %s"};
  static constexpr uint32_t kMarkerWriter = 9;

  // Receives every datagram queued now; each must be a whole sent datagram
  // not received before, or the marker.
  static std::string DrainAndCheck(int fd, const std::vector<uint64_t>& sizes,
                                   std::vector<bool>* seen, bool* marked) {
    std::vector<std::byte> buf(65536);
    for (;;) {
      struct iovec iov = {buf.data(), buf.size()};
      struct msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      const ssize_t n = ::recvmsg(fd, &mh, 0);
      if (n < 0) return errno == EAGAIN ? "" : absl::StrCat("recvmsg: ", ErrnoName(errno));
      const std::vector<std::byte> got(buf.begin(), buf.begin() + n);
      if (Check(got, kMarkerWriter, 0, 9).empty()) {
        *marked = true;
        continue;
      }
      bool matched = false;
      for (size_t i = 0; i < sizes.size() && !matched; ++i) {
        if (!(*seen)[i] && sizes[i] == static_cast<uint64_t>(n) &&
            Check(got, 1, i, sizes[i]).empty()) {
          (*seen)[i] = matched = true;
        }
      }
      if (!matched || (mh.msg_flags & MSG_TRUNC)) {
        return absl::StrFormat(
            "a datagram of %d bytes is no whole sent datagram not yet received: merged, split, "
            "corrupted or duplicated",
            n);
      }
    }
  }
};
IPCSPEC_REGISTER_PROPERTY(UdpBoundaryProperty, "INET-UDP-BOUNDARY", {.applies = ForUdp});

}  // namespace socket_inet
}  // namespace
}  // namespace ipcspec::props
