// G-MULTI-WRITER: K producers, one consumer: each producer's messages arrive
// in its own order, and messages up to the atomic limit never interleave.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class MultiWriterProperty : public NamedProperty {
 public:
  MultiWriterProperty()
      : NamedProperty(
            "G-MULTI-WRITER",
            "K producers, one consumer: each producer's messages arrive in its own order; "
            "writes up to the atomic limit never interleave",
            "pipe(7) PIPE_BUF atomicity; LTP pipe12, testcases/kernel/ipc/pipeio") {}
  Applicability AppliesTo(const Transport& t) const override {
    const Capabilities& c = t.caps();
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (see G-FANIN)");
    return Needs(c.framing == Framing::kMessage || c.atomic_write > 0,
                 "atomic_write=0 on a byte stream (writes may interleave)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      const auto writers = *rc::gen::inRange<uint32_t>(2, 5);
      std::vector<Step> steps = {Step::Param(0, writers)};
      for (uint32_t w = 1; w <= writers; ++w) {
        auto sizes = *rc::gen::resize(12, rc::gen::container<std::vector<uint64_t>>(AtomicSize(c)));
        // On a stream a write is recognised by its bytes; 8 of them make two
        // writers' writes tell apart.
        if (c.framing == Framing::kStream) {
          for (uint64_t& sz : sizes)
            sz = std::max<uint64_t>(sz, std::min<uint64_t>(8, c.atomic_write));
        }
        for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(w, sizes[i], i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const auto writers = static_cast<uint32_t>(s.Param(0, 2));
    std::vector<std::vector<Sent>> per(writers + 1);
    std::vector<Sent> all;
    for (uint32_t w = 1; w <= writers; ++w) {
      per[w] = SendsOf(s, w);
      all.insert(all.end(), per[w].begin(), per[w].end());
    }
    std::vector<Actor> actors;
    for (uint32_t w = 1; w <= writers; ++w) {
      actors.push_back(
          {absl::StrCat("writer ", w), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
             for (const Sent& m : per[w]) {
               // One send per message: a stream send of at most
               // atomic_write bytes must go in one piece.
               const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
               size_t n = 0;
               int rc = end->Send(data, &n, kOpTimeoutMs);
               if (rc != 0) return absl::StrCat("sending ", Name(m), ": ", Errno(rc));
               if (n != m.size) {
                 return absl::StrFormat("sending %s took %d bytes of %d (atomic_write %d)", Name(m),
                                        n, m.size, c.atomic_write);
               }
             }
             return std::string();
           }});
    }
    actors.push_back(
        {"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
           std::vector<size_t> next(writers + 1, 0);
           // Empty messages of different writers look alike; they
           // are matched up when a later message of a writer comes.
           uint64_t pending_empty = 0;
           auto out_of_order = [&](const Sent& got) -> std::string {
             size_t j = next[got.writer];
             while (j < per[got.writer].size() && per[got.writer][j].msg != got.msg) ++j;
             if (!c.ordered) {
               ++next[got.writer];
               return "";
             }
             uint64_t gap = 0;
             for (size_t k = next[got.writer]; k < j; ++k) {
               if (per[got.writer][k].size != 0 || ++gap > pending_empty) {
                 return absl::StrFormat(
                     "writer %d's message %d arrived where its message %d was due", got.writer,
                     got.msg, per[got.writer][next[got.writer]].msg);
               }
             }
             pending_empty -= gap;
             next[got.writer] = j + 1;
             return "";
           };
           if (c.framing == Framing::kMessage) {
             std::vector<std::byte> buf;
             std::map<std::pair<uint32_t, uint64_t>, int> seen;
             for (size_t i = 0; i < all.size(); ++i) {
               int rc = RecvMessage(*end, c, &buf, kOpTimeoutMs);
               if (rc == -ETIMEDOUT && !c.reliable) return "";
               if (rc != 0)
                 return absl::StrFormat("receive %d of %d: %s", i + 1, all.size(), Errno(rc));
               if (buf.empty()) {
                 ++pending_empty;
                 continue;
               }
               std::optional<Sent> which = Identify(buf, all);
               if (!which)
                 return absl::StrFormat("a %d-byte message no writer sent (interleaved or torn)",
                                        buf.size());
               if (++seen[{which->writer, which->msg}] > 1)
                 return absl::StrCat(Name(*which), " arrived twice");
               if (std::string e = out_of_order(*which); !e.empty()) return e;
             }
             uint64_t empty_left = 0;
             for (uint32_t w = 1; w <= writers; ++w) {
               for (size_t k = next[w]; k < per[w].size(); ++k) empty_left += per[w][k].size == 0;
             }
             if (c.ordered && empty_left != pending_empty) {
               return absl::StrFormat("%d empty messages arrived where %d were left to come",
                                      pending_empty, empty_left);
             }
             return ExpectNothingMore(*end, c, true);
           }
           // A byte stream: read it all, then take it apart write by write.
           uint64_t total = 0;
           for (const Sent& m : all) total += m.size;
           std::vector<std::byte> stream;
           std::vector<std::byte> buf(65536);
           while (stream.size() < total) {
             size_t n = 0;
             int rc = end->Recv(buf, &n, kOpTimeoutMs);
             if (rc != 0)
               return absl::StrFormat("receiving at byte %d of %d: %s", stream.size(), total,
                                      Errno(rc));
             stream.insert(stream.end(), buf.begin(), buf.begin() + static_cast<long>(n));
           }
           if (stream.size() > total)
             return absl::StrFormat("%d bytes more than the %d sent", stream.size() - total, total);
           size_t pos = 0;
           while (pos < stream.size()) {
             bool matched = false;
             for (uint32_t w = 1; w <= writers && !matched; ++w) {
               if (next[w] >= per[w].size()) continue;
               const Sent& m = per[w][next[w]];
               if (m.size == 0 || pos + m.size > stream.size()) continue;
               bool same = true;
               for (uint64_t i = 0; i < m.size && same; ++i) {
                 same = static_cast<uint8_t>(stream[pos + i]) == PatternByte(m.writer, m.msg, i);
               }
               if (same) {
                 pos += m.size;
                 ++next[w];
                 matched = true;
               }
             }
             if (!matched) {
               return absl::StrFormat(
                   "stream byte %d: no writer's next write starts here, so writes of at most %d "
                   "bytes interleaved or were torn",
                   pos, c.atomic_write);
             }
           }
           return ExpectNothingMore(*end, c, true);
         }});
    return RunActors(t, env, std::move(actors));
  }
};

IPCSPEC_REGISTER_PROPERTY(MultiWriterProperty);

}  // namespace
}  // namespace ipcspec::props
