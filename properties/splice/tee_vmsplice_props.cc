// TEE-*, VMSPLICE-*: tee duplicates what one pipe holds into another without
// consuming it, and refuses anything but two different pipes; vmsplice
// queues user memory into a pipe, and copies a pipe's bytes out into user
// memory. For "pipe" and "fifo"; the pipe is made through MechHooks.
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "properties/splice/splice_util.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/send_steps.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace tee_vmsplice_props {

class TeeDuplicateProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::byte> data = PipeBytes(6, queued_.Of(s));
    PipeFds a, b;
    Verdict broken;
    if (!NewFilledPipe(t, env.scratch_dir, data, &a, &broken) ||
        !NewPipe(t, env.scratch_dir, &b, &broken)) {
      return broken;
    }
    const size_t len = std::max<uint64_t>(1, len_.Of(s));
    const ssize_t n = ::tee(a.r.get(), b.w.get(), len, SPLICE_F_NONBLOCK);
    const size_t want = std::min(len, data.size());
    if (n != static_cast<ssize_t>(want)) {
      return Verdict::Fail(absl::StrFormat("tee of %d bytes from a pipe holding %d %s, expected %d",
                                           len, data.size(), Said(n, errno), want));
    }
    if (std::string e = ExpectExactly(a.r.get(), data, "the input pipe after tee"); !e.empty())
      return Verdict::Fail(e + ": tee consumed its input");
    const std::vector<std::byte> copy(data.begin(), data.begin() + n);
    return PassUnless(ExpectExactly(b.r.get(), copy, "the output pipe after tee"));
  }

  const BytesParam queued_{this, 0, "the input pipe holds %s", 100,
                           rc::gen::inRange<uint64_t>(1, 6 * PIPE_BUF)};
  const BytesParam len_{this, 1, "tee asks for %s", 100,
                        rc::gen::inRange<uint64_t>(1, 8 * PIPE_BUF)};
};
IPCSPEC_REGISTER_PROPERTY(TeeDuplicateProperty, "TEE-DUPLICATE",
                          {.applies = ForSplice, .examples = 10});

constexpr std::string_view kTeeEinvalCases[] = {"the input is a file", "the output is a file",
                                                "both are one pipe"};

class TeeEinvalProperty final : public FileAndPipeProperty {
 public:
  using FileAndPipeProperty::FileAndPipeProperty;

 private:
  Verdict RunOn(FileDescriptor& file, PipeFds& p, const std::vector<std::byte>& data,
                const Scenario& s) const override {
    const int which = which_.Of(s);
    const ssize_t n = which == 0   ? ::tee(file.get(), p.w.get(), 100, SPLICE_F_NONBLOCK)
                      : which == 1 ? ::tee(p.r.get(), file.get(), 100, SPLICE_F_NONBLOCK)
                                   : ::tee(p.r.get(), p.w.get(), 100, SPLICE_F_NONBLOCK);
    if (n >= 0 || errno != EINVAL) {
      return Verdict::Fail(
          absl::StrFormat("tee where %s %s, not EINVAL", which_.Name(which), Said(n, errno)));
    }
    return PassUnless(ExpectExactly(p.r.get(), data, "the pipe after the refused tee"));
  }

  const ChoiceParam<int> which_{this, 0, "the case is: %s", 0, kTeeEinvalCases};
};
IPCSPEC_REGISTER_PROPERTY(TeeEinvalProperty, "TEE-EINVAL", {.applies = ForSplice, .examples = 6},
                          /*msg=*/7, /*size=*/300);

class VmspliceToPipeProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return SendSteps(1, 17, rc::gen::inRange<uint64_t>(1, PIPE_BUF));
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) return absl::StrFormat("an iovec of %d bytes", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    // Each page an iovec touches takes one pipe slot: keep to what fits, so
    // that the whole total is due (a fuller pipe may take a partial count).
    const uintptr_t page = static_cast<uintptr_t>(PageSize());
    const long slots = p.capacity > 0 ? p.capacity / static_cast<long>(page) : 1;
    std::vector<std::vector<std::byte>> pieces;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend) pieces.push_back(PipeBytes(st.arg, st.size));
    }
    std::vector<struct iovec> iov;
    std::vector<std::byte> all;
    long used = 0;
    for (auto& piece : pieces) {
      const auto first = reinterpret_cast<uintptr_t>(piece.data()) / page;
      const auto last = (reinterpret_cast<uintptr_t>(piece.data()) + piece.size() - 1) / page;
      used += static_cast<long>(last - first + 1);
      if (used > slots) break;
      iov.push_back({piece.data(), piece.size()});
      all.insert(all.end(), piece.begin(), piece.end());
    }
    const ssize_t n = ::vmsplice(p.w.get(), iov.data(), iov.size(), 0);
    if (n != static_cast<ssize_t>(all.size())) {
      return Verdict::Fail(absl::StrFormat("vmsplice of %d iovecs (%d bytes) %s", iov.size(),
                                           all.size(), Said(n, errno)));
    }
    return PassUnless(ExpectExactly(p.r.get(), all, "the pipe after vmsplice"));
  }
};
IPCSPEC_REGISTER_PROPERTY(VmspliceToPipeProperty, "VMSPLICE-TO-PIPE",
                          {.applies = ForSplice, .examples = 10});

class VmspliceFromPipeProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {queued_.Step(*rc::gen::inRange<uint64_t>(1, 4 * PIPE_BUF))};
      const int n = *rc::gen::inRange(1, 9);
      for (int i = 0; i < n; ++i)
        steps.push_back(Step::Recv(0, *rc::gen::inRange<uint64_t>(1, PIPE_BUF)));
      return steps;
    });
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kRecv) return absl::StrFormat("an iovec of %d bytes", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::byte> data = PipeBytes(8, queued_.Of(s));
    PipeFds p;
    Verdict broken;
    if (!NewFilledPipe(t, env.scratch_dir, data, &p, &broken)) return broken;
    std::vector<std::vector<std::byte>> bufs;
    for (const Step& st : s.steps) {
      if (st.op == Op::kRecv) bufs.emplace_back(st.size);
    }
    std::vector<struct iovec> iov;
    size_t room = 0;
    for (auto& b : bufs) {
      iov.push_back({b.data(), b.size()});
      room += b.size();
    }
    SetNonBlocking(p.r.get(), true);
    const ssize_t n = ::vmsplice(p.r.get(), iov.data(), iov.size(), 0);
    const size_t want = std::min(room, data.size());
    if (n != static_cast<ssize_t>(want)) {
      return Verdict::Fail(
          absl::StrFormat("vmsplice from a pipe holding %d bytes into %d bytes of "
                          "iovecs %s, expected %d",
                          data.size(), room, Said(n, errno), want));
    }
    std::vector<std::byte> got;
    for (auto& b : bufs) got.insert(got.end(), b.begin(), b.end());
    got.resize(want);
    if (!std::equal(got.begin(), got.end(), data.begin()))
      return Verdict::Fail("the iovecs do not hold the pipe's bytes in order");
    const std::vector<std::byte> rest(data.begin() + want, data.end());
    if (std::string e = ExpectExactly(p.r.get(), rest, "the pipe after vmsplice"); !e.empty())
      return Verdict::Fail(e + ": vmsplice did not consume what it copied");
    return Verdict::Pass();
  }

  const BytesParam queued_{this, 0, "the pipe holds %s", 100};
};
IPCSPEC_REGISTER_PROPERTY(VmspliceFromPipeProperty, "VMSPLICE-FROM-PIPE",
                          {.applies = ForSplice, .examples = 10});

}  // namespace tee_vmsplice_props
}  // namespace
}  // namespace ipcspec::props
