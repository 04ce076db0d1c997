// FIFO-* rules of the pipe behind a FIFO node: it exists only while someone
// has the node open; a reader that opened without a writer sees no hang-up
// until a writer has come and gone, and reads end of file (0), not EAGAIN,
// while no writer is there.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/fifo_node.h"
#include "properties/support/fifo_property.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"

namespace ipcspec::props {
namespace {
namespace fifo_pipe_props {

std::string SayCapacity(uint64_t v) {
  return v == 0 ? "left at the default" : absl::StrCat("set to ", v, v == 1 ? " page" : " pages");
}

class DiscardProperty final : public QueuedFifoProperty {
  Verdict RunOn(const FifoNode& node, FileDescriptor& r, FileDescriptor& w,
                const std::vector<std::byte>&, const Scenario& s, const CaseEnv&) const override {
    const long fresh = PipeCapacity(w.get());
    if (pages_.Of(s) > 0 && ::fcntl(w.get(), F_SETPIPE_SZ, pages_.Of(s) * PageSize()) < 0)
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    const long cap = PipeCapacity(w.get());
    const std::vector<std::byte> data = PipeBytes(
        4, std::clamp<uint64_t>(left_.Of(s), 1, static_cast<uint64_t>(std::max(cap, 1L))));
    if (WriteFull(w.get(), data.data(), data.size()) < 0) return Verdict::Broken("write");
    if (reader_last_.Of(s)) {
      w.reset();
      r.reset();
    } else {
      r.reset();
      w.reset();
    }
    r.reset(node.Open(O_RDONLY | O_NONBLOCK));
    w.reset(node.Open(O_WRONLY));
    if (!r || !w) return Verdict::Broken("reopening the FIFO");
    const long queued = BytesQueued(r.get());
    char c;
    const ssize_t n = ::read(r.get(), &c, 1);
    if (queued != 0 || n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(absl::StrFormat(
          "after every opener closed with %d bytes unread, a new opener finds %d bytes queued "
          "and its read %s: the old pipe lived on",
          data.size(), queued, Said(n, errno)));
    }
    if (const long cap = PipeCapacity(w.get()); cap != fresh) {
      return Verdict::Fail(absl::StrFormat(
          "after every opener closed, the new pipe's capacity is %d, not the default %d", cap,
          fresh));
    }
    return Verdict::Pass();
  }

  const BytesParam left_{this, 0, "%s are left unread", 10,
                         rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)};
  const Param<int> pages_{this,       1, "the capacity is %s", 0, rc::gen::element<int>(0, 1, 2, 4),
                          SayCapacity};
  const YesNoParam reader_last_{this, 2, "the reader closes last: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(DiscardProperty, "FIFO-DISCARD", {.applies = ForFifo, .examples = 10});

// revents of a poll with timeout 0 (a state query), or -1.
int PollNow(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

class PollNohupProperty final : public FifoProperty {
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv&) const override {
    FileDescriptor r(node.Open(O_RDONLY | O_NONBLOCK));
    if (!r) return Verdict::Broken("opening the reader");
    if (int ev = PollNow(r.get()); ev != 0) {
      return Verdict::Fail(absl::StrFormat(
          "a reader that opened with no writer ever there: poll shows 0x%x, expected nothing", ev));
    }
    for (int i = 0; i < sessions_.Of(s); ++i) {
      FileDescriptor w(node.Open(O_WRONLY | O_NONBLOCK));
      if (!w) return Verdict::Broken("opening a writer");
      if (int ev = PollNow(r.get()); ev != 0) {
        return Verdict::Fail(
            absl::StrFormat("writer %d open, nothing written: poll shows 0x%x", i + 1, ev));
      }
      w.reset();
      if (int ev = PollNow(r.get()); ev != POLLHUP) {
        return Verdict::Fail(absl::StrFormat(
            "after writer %d closed: poll shows 0x%x, expected POLLHUP alone", i + 1, ev));
      }
    }
    FileDescriptor late(node.Open(O_RDONLY | O_NONBLOCK));
    if (int ev = PollNow(late.get()); ev != 0) {
      return Verdict::Fail(absl::StrFormat(
          "a reader that opened after the last writer left: poll shows 0x%x, expected nothing",
          ev));
    }
    return Verdict::Pass();
  }

  const Param<int> sessions_{this, 0, "1 writer comes and goes|%s writers come and go", 1,
                             rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(PollNohupProperty, "FIFO-POLL-NOHUP",
                          {.applies = ForFifo, .examples = 8});

class NbReadEofProperty final : public FifoProperty {
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv&) const override {
    FileDescriptor r(node.Open(O_RDONLY | O_NONBLOCK));
    if (!r) return Verdict::Broken("opening the reader");
    char c;
    ssize_t n = ::read(r.get(), &c, 1);
    if (n != 0) {
      return Verdict::Fail(absl::StrCat("non-blocking read with no writer ever there ",
                                        Said(n, errno), ", expected 0 (end of file)"));
    }
    FileDescriptor w(node.Open(O_WRONLY | O_NONBLOCK));
    if (!w) return Verdict::Broken("opening the writer");
    n = ::read(r.get(), &c, 1);
    if (n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(absl::StrCat("non-blocking read of the empty FIFO with a writer open ",
                                        Said(n, errno), ", not EAGAIN"));
    }
    const std::vector<std::byte> data = PipeBytes(5, queued_.Of(s));
    if (WriteFull(w.get(), data.data(), data.size()) < 0) return Verdict::Broken("write");
    w.reset();
    std::vector<std::byte> got(data.size() + 1);
    n = data.empty() ? 0 : ::read(r.get(), got.data(), got.size());
    if (n != static_cast<ssize_t>(data.size())) {
      return Verdict::Fail(absl::StrFormat(
          "after the writer wrote %d bytes and closed, the read %s", data.size(), Said(n, errno)));
    }
    n = ::read(r.get(), &c, 1);
    if (n != 0) {
      return Verdict::Fail(
          absl::StrCat("non-blocking read after the writer closed and the data was read ",
                       Said(n, errno), ", expected 0 (end of file)"));
    }
    return Verdict::Pass();
  }

  const BytesParam queued_{this, 0, "the writer writes %s", 10,
                           rc::gen::inRange<uint64_t>(0, 2 * PIPE_BUF)};
};
IPCSPEC_REGISTER_PROPERTY(NbReadEofProperty, "FIFO-NB-READ-EOF",
                          {.applies = ForFifo, .examples = 10});

}  // namespace fifo_pipe_props
}  // namespace
}  // namespace ipcspec::props
