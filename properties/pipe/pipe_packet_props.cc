// PIPE-PACKET*: packet mode (O_DIRECT, from pipe2 or F_SETFL): each write of at
// most a page is one packet, a read returns one packet, and a read shorter
// than the packet discards the rest of it. For "pipe" and "fifo"; the pipe
// is made through MechHooks.
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/send_steps.h"

namespace ipcspec::props {
namespace {
namespace pipe_packet_props {

// A PIPE-PACKET-* property: Run makes a pipe in packet mode (pipe2(O_DIRECT)
// for "pipe", F_SETFL on the write end else) and hands it to RunOn with the
// number of page-sized packets it holds (`slots`).
class PacketModeProperty : public NamedProperty {
 public:
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final {
    PipeFds p;
    Verdict broken;
    if (!NewPipeWithFlags(t, env.scratch_dir, O_CLOEXEC | O_DIRECT, &p, &broken)) return broken;
    return RunOn(p, p.capacity > 0 ? p.capacity / PageSize() : 1, s);
  }

 protected:
  virtual Verdict RunOn(PipeFds& p, long slots, const Scenario& s) const = 0;
};

class PacketProperty final : public PacketModeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return SendSteps(
        1, 7,
        rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{1, PIPE_BUF, PIPE_BUF + 1}),
                       rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF)));
  }
  Verdict RunOn(PipeFds& p, long slots, const Scenario& s) const override {
    const long page = PageSize();
    std::vector<std::vector<std::byte>> packets;
    long used = 0;
    int i = 0;
    for (uint64_t size : SizesOf(s)) {
      const long need = static_cast<long>((size + page - 1) / page);
      if (used + need > slots) break;
      const std::vector<std::byte> d = PipeBytes(i++, size);
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      for (size_t off = 0; off < d.size(); off += page) {
        packets.emplace_back(d.begin() + off, d.begin() + std::min<size_t>(off + page, d.size()));
      }
      used += need;
    }
    SetNonBlocking(p.r.get(), true);
    std::vector<std::byte> buf(4 * page);
    for (size_t k = 0; k < packets.size(); ++k) {
      const ssize_t n = ::read(p.r.get(), buf.data(), buf.size());
      if (n != static_cast<ssize_t>(packets[k].size()) ||
          !std::equal(packets[k].begin(), packets[k].end(), buf.begin())) {
        return Verdict::Fail(absl::StrFormat(
            "packet %d of %d: a read of %d bytes %s, expected exactly that packet of %d bytes", k,
            packets.size(), buf.size(), Said(n, errno), packets[k].size()));
      }
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(PacketProperty, "PIPE-PACKET",
                          {.applies = ForPipeOrFifo, .examples = 15});

class PacketTruncProperty final : public PacketModeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return RoundSteps(1, 8, [](int i) {  // a packet, then a read of it
      const uint64_t size = *rc::gen::inRange<uint64_t>(2, PIPE_BUF + 1);
      return std::vector<Step>{Step::Send(1, size, i),
                               Step::Recv(0, *rc::gen::inRange<uint64_t>(1, size + 8))};
    });
  }
  Verdict RunOn(PipeFds& p, long slots, const Scenario& s) const override {
    const long page = PageSize();
    std::vector<std::vector<std::byte>> packets;
    std::vector<uint64_t> reads;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend && static_cast<long>(packets.size()) < slots) {
        packets.push_back(PipeBytes(st.arg, std::min<uint64_t>(st.size, page)));
        if (WriteFull(p.w.get(), packets.back().data(), packets.back().size()) < 0)
          return Verdict::Broken("write");
      } else if (st.op == Op::kRecv) {
        reads.push_back(std::max<uint64_t>(1, st.size));
      }
    }
    SetNonBlocking(p.r.get(), true);
    for (size_t k = 0; k < packets.size() && k < reads.size(); ++k) {
      std::vector<std::byte> buf(reads[k]);
      const size_t want = std::min<size_t>(reads[k], packets[k].size());
      const ssize_t n = ::read(p.r.get(), buf.data(), buf.size());
      if (n != static_cast<ssize_t>(want) ||
          !std::equal(buf.begin(), buf.begin() + want, packets[k].begin())) {
        return Verdict::Fail(absl::StrFormat(
            "packet %d (%d bytes) read with a %d-byte buffer: the read %s, expected the first "
            "%d bytes of that packet%s",
            k, packets[k].size(), reads[k], Said(n, errno), want,
            k > 0 && reads[k - 1] < packets[k - 1].size() ? " (the rest of the previous packet "
                                                            "must be gone)"
                                                          : ""));
      }
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(PacketTruncProperty, "PIPE-PACKET-TRUNC",
                          {.applies = ForPipeOrFifo, .examples = 15});

}  // namespace pipe_packet_props
}  // namespace
}  // namespace ipcspec::props
