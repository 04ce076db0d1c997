// SPLICE-*: moving data between pipes and files without a user-space copy.
// splice moves file -> pipe, pipe -> file and pipe -> pipe with the offsets
// rules (a given offset advances, the file position does not; none for a
// pipe: ESPIPE), its EINVAL cases (no pipe, the same pipe, an O_APPEND file)
// and EAGAIN. tee and vmsplice are in tee_vmsplice_props.cc. For "pipe" and
// "fifo": the pipe is made the transport's way (MechHooks); the files live in
// the case's scratch directory.
#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/splice/splice_util.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace splice_props {

class FileToPipeProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t size = *SpliceSize();
      return std::vector<Step>{size_.Step(size),
                               from_.Step(*rc::gen::inRange<uint64_t>(0, size + 1)),
                               len_.Step(*SpliceSize()), offset_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::byte> content = PipeBytes(1, size_.Of(s));
    FileDescriptor file = ScratchFile(env, content);
    PipeFds p;
    Verdict broken;
    if (!file) return Verdict::Broken(absl::StrCat("scratch file: ", ErrnoName(errno)));
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const off_t from = static_cast<off_t>(std::min(from_.Of(s), content.size()));
    const size_t len = std::max<uint64_t>(1, len_.Of(s));
    const bool with_offset = offset_.Of(s);
    loff_t off = from;
    if (!with_offset) ::lseek(file.get(), from, SEEK_SET);
    const ssize_t n = ::splice(file.get(), with_offset ? &off : nullptr, p.w.get(), nullptr, len,
                               SPLICE_F_NONBLOCK);
    const size_t want =
        std::min<size_t>({len, content.size() - from, static_cast<size_t>(p.capacity)});
    const std::string what =
        absl::StrFormat("splice of %d bytes from offset %d of a %d-byte file%s", len, from,
                        content.size(), with_offset ? " (off_in given)" : "");
    if (n != static_cast<ssize_t>(want))
      return Verdict::Fail(absl::StrFormat("%s %s, expected %d", what, Said(n, errno), want));
    const off_t pos = Position(file.get());
    if (with_offset ? (off != from + n || pos != 0) : pos != from + n) {
      return Verdict::Fail(
          absl::StrFormat("%s: *off_in is %d and the file position %d afterwards", what, off, pos));
    }
    const std::vector<std::byte> want_bytes(content.begin() + from, content.begin() + from + n);
    if (std::string e = ExpectExactly(p.r.get(), want_bytes, what); !e.empty())
      return Verdict::Fail(e);
    loff_t end = static_cast<loff_t>(content.size());
    if (const ssize_t z = ::splice(file.get(), &end, p.w.get(), nullptr, len, 0); z != 0)
      return Verdict::Fail(absl::StrCat("splice at end of file ", Said(z, errno), ", expected 0"));
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the file holds %s", 100};
  const Param<uint64_t> from_{this, 1, "the splice starts at offset %s", 0};
  const BytesParam len_{this, 2, "it asks for %s", 100};
  const Param<bool> offset_{this, 3, "off_in is given: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(FileToPipeProperty, "SPLICE-FILE-TO-PIPE",
                          {.applies = ForSplice, .examples = 10});

class PipeToFileProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {offset_.Step(*rc::gen::arbitrary<bool>()),
                                 start_.Step(*rc::gen::inRange<uint64_t>(0, 2 * PIPE_BUF))};
      const int n = *rc::gen::inRange(1, 4);
      for (int i = 0; i < n; ++i) steps.push_back(Step::Send(1, *SpliceSize(), i));
      return steps;
    });
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) return absl::StrFormat("%d bytes are spliced from the pipe", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor file = ScratchFile(env, {});
    PipeFds p;
    Verdict broken;
    if (!file) return Verdict::Broken(absl::StrCat("scratch file: ", ErrnoName(errno)));
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const bool with_offset = offset_.Of(s);
    const loff_t start = static_cast<loff_t>(start_.Of(s));
    loff_t off = start;
    if (!with_offset) ::lseek(file.get(), start, SEEK_SET);
    std::vector<std::byte> written;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> d = PipeBytes(st.arg, std::min<uint64_t>(st.size, PIPE_BUF));
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      const ssize_t n =
          ::splice(p.r.get(), nullptr, file.get(), with_offset ? &off : nullptr, d.size() + 100, 0);
      if (n != static_cast<ssize_t>(d.size())) {
        return Verdict::Fail(absl::StrFormat("splice of a pipe holding %d bytes into a file %s",
                                             d.size(), Said(n, errno)));
      }
      written.insert(written.end(), d.begin(), d.end());
    }
    const off_t pos = Position(file.get());
    const loff_t end = start + static_cast<loff_t>(written.size());
    if (with_offset ? (off != end || pos != 0) : pos != end) {
      return Verdict::Fail(
          absl::StrFormat("after splicing %d bytes%s: *off_out is %d and the file position %d",
                          written.size(), with_offset ? " with off_out" : "", off, pos));
    }
    if (ReadAt(file.get(), start, written.size()) != written)
      return Verdict::Fail("the file does not hold the spliced bytes at the offset");
    const std::vector<std::byte> hole = ReadAt(file.get(), 0, start);
    if (hole.size() != static_cast<size_t>(start) ||
        std::any_of(hole.begin(), hole.end(), [](std::byte b) { return b != std::byte{0}; })) {
      return Verdict::Fail("the hole before the spliced bytes does not read as zeros");
    }
    return Verdict::Pass();
  }

  const Param<bool> offset_{this, 0, "off_out is given: %s", false, SayYesNo};
  const Param<uint64_t> start_{this, 1, "the writes start at offset %s", 0};
};
IPCSPEC_REGISTER_PROPERTY(PipeToFileProperty, "SPLICE-PIPE-TO-FILE",
                          {.applies = ForSplice, .examples = 10});

class PipeToPipeProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {queued_.Step(*SpliceSize())};
      const int n = *rc::gen::inRange(1, 5);
      for (int i = 0; i < n; ++i) steps.push_back(Step::Recv(0, *SpliceSize()));
      return steps;
    });
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kRecv) return absl::StrFormat("a splice asks for %d bytes", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::byte> data = PipeBytes(3, queued_.Of(s));
    PipeFds a, b;
    Verdict broken;
    if (!NewFilledPipe(t, env.scratch_dir, data, &a, &broken) ||
        !NewPipe(t, env.scratch_dir, &b, &broken)) {
      return broken;
    }
    size_t moved = 0;
    for (const Step& st : s.steps) {
      if (st.op != Op::kRecv || moved == data.size()) continue;
      const size_t want = std::min<size_t>(st.size, data.size() - moved);
      const ssize_t n =
          ::splice(a.r.get(), nullptr, b.w.get(), nullptr, st.size, SPLICE_F_NONBLOCK);
      if (n != static_cast<ssize_t>(want)) {
        return Verdict::Fail(
            absl::StrFormat("splice of %d bytes from a pipe holding %d %s, "
                            "expected %d",
                            st.size, data.size() - moved, Said(n, errno), want));
      }
      moved += n;
      if (long q = BytesQueued(a.r.get()); q != static_cast<long>(data.size() - moved)) {
        return Verdict::Fail(absl::StrFormat(
            "after splicing %d of %d bytes out, the input pipe holds %d: not consumed", moved,
            data.size(), q));
      }
    }
    const std::vector<std::byte> want(data.begin(), data.begin() + moved);
    return PassUnless(ExpectExactly(b.r.get(), want, "the output pipe"));
  }

  const BytesParam queued_{this, 0, "the input pipe holds %s", 100};
};
IPCSPEC_REGISTER_PROPERTY(PipeToPipeProperty, "SPLICE-PIPE-TO-PIPE",
                          {.applies = ForSplice, .examples = 10});

class EspipeProperty final : public FileAndPipeProperty {
 public:
  using FileAndPipeProperty::FileAndPipeProperty;

 private:
  Verdict RunOn(FileDescriptor& file, PipeFds& p, const std::vector<std::byte>& data,
                const Scenario& s) const override {
    loff_t off = static_cast<loff_t>(offset_.Of(s));
    const bool input_pipe = side_.Of(s);
    const ssize_t n = input_pipe
                          ? ::splice(p.r.get(), &off, file.get(), nullptr, 50, SPLICE_F_NONBLOCK)
                          : ::splice(file.get(), nullptr, p.w.get(), &off, 50, SPLICE_F_NONBLOCK);
    if (n >= 0 || errno != ESPIPE) {
      return Verdict::Fail(absl::StrFormat("splice with %s for the pipe %s, not ESPIPE",
                                           input_pipe ? "off_in" : "off_out", Said(n, errno)));
    }
    return PassUnless(ExpectExactly(p.r.get(), data, "after the refused splice"));
  }

  const YesNoParam side_{this, 0, "the pipe is the input: %s", true};
  const Param<uint64_t> offset_{this, 1, "the offset given is %s", 0,
                                rc::gen::inRange<uint64_t>(0, 1u << 16)};
};
IPCSPEC_REGISTER_PROPERTY(EspipeProperty, "SPLICE-ESPIPE", {.applies = ForSplice, .examples = 8},
                          /*msg=*/4, /*size=*/100);

constexpr std::string_view kEinvalCases[] = {
    "neither side is a pipe", "both sides are the same pipe", "the output is an O_APPEND file"};

// SPLICE-EINVAL-NOPIPE (which 0), -SAMEPIPE (1) and -APPEND (2).
class EinvalProperty final : public NamedProperty {
 public:
  explicit EinvalProperty(int which) : which_(which) {}

 private:
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::byte> data = PipeBytes(5, 200);
    FileDescriptor a = ScratchFile(env, data);
    FileDescriptor b = ScratchFile(env, {}, which_ == 2 ? O_WRONLY | O_APPEND : O_RDWR);
    PipeFds p;
    Verdict broken;
    if (!a || !b) return Verdict::Broken("scratch files");
    if (!NewFilledPipe(t, env.scratch_dir, data, &p, &broken)) return broken;
    const size_t len = std::max<uint64_t>(1, len_.Of(s));
    ssize_t n = -1;
    if (which_ == 0) n = ::splice(a.get(), nullptr, b.get(), nullptr, len, SPLICE_F_NONBLOCK);
    if (which_ == 1) n = ::splice(p.r.get(), nullptr, p.w.get(), nullptr, len, SPLICE_F_NONBLOCK);
    if (which_ == 2) n = ::splice(p.r.get(), nullptr, b.get(), nullptr, len, SPLICE_F_NONBLOCK);
    if (n >= 0 || errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("splice where %s %s, not EINVAL",
                                           NameOf(kEinvalCases, which_), Said(n, errno)));
    }
    if (std::string e = ExpectExactly(p.r.get(), data, "the pipe after the refused splice");
        !e.empty()) {
      return Verdict::Fail(e);
    }
    if (!ReadAt(b.get(), 0, 1).empty() && which_ != 2)
      return Verdict::Fail("the refused splice wrote into the output file");
    return Verdict::Pass();
  }

  int which_;
  const BytesParam len_{this, 0, "the splice asks for %s", 100, SpliceSize()};
};
IPCSPEC_REGISTER_PROPERTY(EinvalProperty, "SPLICE-EINVAL-NOPIPE",
                          {.applies = ForSplice, .examples = 6}, /*which=*/0);
IPCSPEC_REGISTER_PROPERTY(EinvalProperty, "SPLICE-EINVAL-SAMEPIPE",
                          {.applies = ForSplice, .examples = 6}, /*which=*/1);
IPCSPEC_REGISTER_PROPERTY(EinvalProperty, "SPLICE-EINVAL-APPEND",
                          {.applies = ForSplice, .examples = 6}, /*which=*/2);

class NonblockProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    FileDescriptor file = ScratchFile(env, {});
    PipeFds in, out;
    Verdict broken;
    if (!file) return Verdict::Broken("scratch file");
    if (!NewPipe(t, env.scratch_dir, &in, &broken) || !NewPipe(t, env.scratch_dir, &out, &broken))
      return broken;
    const int dest = to_file_.Of(s) ? file.get() : out.w.get();
    const size_t len = std::max<uint64_t>(1, len_.Of(s));
    const Deadline deadline = CaseDeadline(env);
    ChildCall c = WatchCall(
        [&] {
          return ExitCodeOf(::splice(in.r.get(), nullptr, dest, nullptr, len, SPLICE_F_NONBLOCK));
        },
        {SYS_splice}, deadline);
    if (!c.FailedWith(EAGAIN)) {
      return Verdict::Fail(
          absl::StrCat("splice(SPLICE_F_NONBLOCK) from an empty pipe with its writer open ",
                       c.Said(), ", not EAGAIN"));
    }
    c = WatchCall([&] { return ExitCodeOf(::splice(in.r.get(), nullptr, dest, nullptr, len, 0)); },
                  {SYS_splice}, deadline);
    if (!c.blocked) {
      return Verdict::Fail(
          absl::StrCat("a blocking splice from an empty pipe with its writer open ", c.Said(),
                       ", expected it to block"));
    }
    return Verdict::Pass();
  }

  const YesNoParam to_file_{this, 0, "the output is a file (not a pipe): %s", false};
  const BytesParam len_{this, 1, "the splice asks for %s", 100, SpliceSize()};
};
IPCSPEC_REGISTER_PROPERTY(NonblockProperty, "SPLICE-NONBLOCK",
                          {.applies = ForSplice, .examples = 6});

}  // namespace splice_props
}  // namespace
}  // namespace ipcspec::props
