#include "fuzz/fuzz_mp_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"

namespace ipcspec::mp {

MpReader::MpReader(const MpScript& script, MpShared* shared) : script_(script), shared_(shared) {
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    got_[w].assign(script_.sends[w].size(), 0);
  }
}

bool MpReader::Published(uint32_t w, uint64_t k) const {
  return k < shared_->writers[w].done.load(std::memory_order_acquire);
}

uint64_t MpReader::Length(uint32_t w, uint64_t k) const {
  if (!Published(w, k)) return script_.sends[w][k].size;
  return static_cast<uint64_t>(std::max<int64_t>(shared_->writers[w].taken[k], 0));
}

std::optional<uint64_t> MpReader::Candidate(uint32_t w) const {
  const bool message = script_.caps.framing == Framing::kMessage;
  for (uint64_t k = next_[w]; k < script_.sends[w].size(); ++k) {
    if (!script_.sends[w][k].delivers) continue;
    if (!Published(w, k)) return k;
    const int64_t taken = shared_->writers[w].taken[k];
    if (taken > 0 || (message && taken == 0)) return k;
  }
  return std::nullopt;
}

std::string MpReader::Name(uint32_t w, uint64_t k) const {
  return script_.writers == 1 ? absl::StrFormat("message %d", k)
                              : absl::StrFormat("message %d of writer %d", k, w);
}

bool MpReader::Pending() const {
  if (script_.caps.model == ModelClass::kCounter) {
    uint64_t sum = 0;
    for (uint32_t w = 1; w <= script_.writers; ++w) {
      const uint32_t done = shared_->writers[w].done.load(std::memory_order_acquire);
      for (uint32_t k = 0; k < done; ++k) {
        if (shared_->writers[w].taken[k] == 8) sum += MpCounterValue(w, k);
      }
    }
    return sum > sum_read_;
  }
  if (open_ && Published(open_->w, open_->k) && open_->off < Length(open_->w, open_->k)) {
    return true;
  }
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    std::optional<uint64_t> k = Candidate(w);
    if (k && Published(w, *k) && script_.sends[w][*k].size != 0) return true;
  }
  // Published empty messages at the heads that no spare stands for.
  return SentEmpties() > spare_empties_;
}

bool MpReader::InFlight() const {
  uint64_t published = 0, in_flight = 0;  // counter values
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    const WriterShared& ws = shared_->writers[w];
    uint32_t k, again;
    bool sending;
    do {  // the send in flight is the first unpublished one
      k = ws.done.load(std::memory_order_acquire);
      sending = ws.in_send.load(std::memory_order_acquire) != 0;
      again = ws.done.load(std::memory_order_acquire);
    } while (k != again);
    if (script_.caps.model == ModelClass::kCounter) {
      for (uint32_t j = 0; j < k; ++j) {
        if (ws.taken[j] == 8) published += MpCounterValue(w, j);
      }
      if (sending && k < script_.sends[w].size()) in_flight += MpCounterValue(w, k);
      continue;
    }
    if (!sending || k >= script_.sends[w].size()) continue;
    // Owed until it has arrived whole (the reader may get it before the
    // writer's send returns).
    if (next_[w] <= k) return true;
    if (open_ && open_->w == w && open_->k == k && open_->off < script_.sends[w][k].size) {
      return true;
    }
  }
  return script_.caps.model == ModelClass::kCounter && sum_read_ < published + in_flight;
}

__attribute__((noinline)) void MpReader::SawKilledWriter(uint32_t w) const { killed_ |= 1u << w; }

bool MpReader::AllFinished() const {
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    const WriterState s = shared_->StateOf(w);
    if (s == kDead && (killed_ & (1u << w)) == 0) SawKilledWriter(w);
    if (s != kClosed && s != kDead) return false;
  }
  return true;
}

std::string MpReader::Owing() const {
  std::vector<std::string> owed;
  if (open_ && open_->off < Length(open_->w, open_->k)) {
    owed.push_back(absl::StrFormat("the rest of %s from byte %d%s", Name(open_->w, open_->k),
                                   open_->off, Published(open_->w, open_->k) ? " (sent)" : ""));
  }
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    std::optional<uint64_t> k = Candidate(w);
    if (!k) continue;
    if (Published(w, *k)) {
      owed.push_back(absl::StrFormat("%s (%s, sent)", Name(w, *k), ByteCount(Length(w, *k))));
    } else if (shared_->writers[w].in_send.load() != 0) {
      owed.push_back(absl::StrFormat("%s (being sent)", Name(w, *k)));
    }
  }
  std::string out = owed.empty() ? "nothing" : absl::StrJoin(owed, ", or ");
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    if (killed_ & (1u << w)) absl::StrAppendFormat(&out, " (writer %d was killed)", w);
  }
  return out;
}

bool MpReader::Matches(uint32_t w, uint64_t k, uint64_t off, std::span<const std::byte> got) const {
  return off + got.size() <= script_.sends[w][k].size && MpMismatch(w, k, off, got) == got.size();
}

std::string MpReader::OnData(std::span<const std::byte> got) {
  if (ended_) return absl::StrFormat("%d bytes after end of stream", got.size());
  if (script_.caps.model == ModelClass::kCounter) return OnCounter(got);
  if (script_.caps.framing == Framing::kStream) return OnStream(got);
  return OnMessage(got);
}

std::vector<uint32_t> MpReader::EmptyHeads() const {
  std::vector<uint32_t> heads;
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    std::optional<uint64_t> k = Candidate(w);
    if (k && script_.sends[w][*k].size == 0) {
      heads.push_back(w);
    }
  }
  return heads;
}

uint64_t MpReader::SentEmpties() const {
  uint64_t n = 0;
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    for (uint64_t k = next_[w]; k < script_.sends[w].size() && Published(w, k); ++k) {
      if (!script_.sends[w][k].delivers || shared_->writers[w].taken[k] < 0) continue;
      if (script_.sends[w][k].size != 0) break;
      ++n;
    }
  }
  return n;
}

void MpReader::Take(uint32_t w, uint64_t k, uint64_t bytes) {
  got_[w][k] = bytes + 1;  // arrived (+1: an empty message too)
  next_[w] = k + 1;
}

bool MpReader::TakeWithSpares(uint32_t w, std::span<const std::byte> got) {
  const uint64_t saved = next_[w];
  std::vector<uint64_t> empties;
  for (std::optional<uint64_t> k = Candidate(w); k; k = Candidate(w)) {
    if (script_.sends[w][*k].size == 0 && empties.size() < spare_empties_) {
      empties.push_back(*k);
      next_[w] = *k + 1;
      continue;
    }
    if (!empties.empty() && got.size() == script_.sends[w][*k].size && Matches(w, *k, 0, got)) {
      for (uint64_t e : empties) Take(w, e, 0);
      spare_empties_ -= empties.size();
      Take(w, *k, got.size());
      return true;
    }
    break;
  }
  next_[w] = saved;
  return false;
}

void MpReader::SettleSpares() {
  for (std::vector<uint32_t> heads = EmptyHeads(); spare_empties_ > 0 && heads.size() == 1;
       heads = EmptyHeads()) {
    Take(heads[0], *Candidate(heads[0]), 0);
    --spare_empties_;
  }
}

std::string MpReader::OnMessage(std::span<const std::byte> got) {
  if (got.empty() && EmptyHeads().size() > 1) {
    ++spare_empties_;  // whose it is, a later message tells
    return "";
  }
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    std::optional<uint64_t> k = Candidate(w);
    if (k && got.size() == script_.sends[w][*k].size && Matches(w, *k, 0, got)) {
      Take(w, *k, got.size());
      SettleSpares();
      return "";
    }
  }
  for (uint32_t w = 1; w <= script_.writers && spare_empties_ > 0; ++w) {
    if (TakeWithSpares(w, got)) {
      SettleSpares();
      return "";
    }
  }
  return Mismatch(got);
}

std::string MpReader::Mismatch(std::span<const std::byte> got) const {
  std::vector<std::string> want;
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    if (std::optional<uint64_t> k = Candidate(w)) {
      want.push_back(absl::StrFormat("%s (%s%s)", Name(w, *k), ByteCount(script_.sends[w][*k].size),
                                     Published(w, *k) ? ", sent" : ""));
    }
  }
  const std::string expected =
      want.empty() ? "expected nothing" : absl::StrCat("expected ", absl::StrJoin(want, " or "));
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    const std::optional<uint64_t> k = Candidate(w);
    for (uint64_t j = 0; j < script_.sends[w].size(); ++j) {
      if (got.size() != script_.sends[w][j].size || !Matches(w, j, 0, got)) continue;
      if (j < next_[w]) return absl::StrFormat("%s, got %s a second time", expected, Name(w, j));
      if (k && j > *k) {
        return absl::StrFormat("%s, got %s first: %s is lost, or the two are reordered", expected,
                               Name(w, j), Name(w, *k));
      }
      return absl::StrFormat("%s, got %s, whose send was refused", expected, Name(w, j));
    }
    if (k && got.size() < script_.sends[w][*k].size && Matches(w, *k, 0, got)) {
      return absl::StrFormat("%s, got its first %d bytes only", expected, got.size());
    }
  }
  return absl::StrFormat("%s, got %d bytes that are no message sent", expected, got.size());
}

std::string MpReader::OnStream(std::span<const std::byte> got) {
  size_t pos = 0;
  while (pos < got.size()) {
    const std::span<const std::byte> rest = got.subspan(pos);
    if (open_) {
      Cursor& c = *open_;
      const uint64_t len = Length(c.w, c.k);
      if (c.off >= len) {  // a partial send, now published, ended it
        open_.reset();
        continue;
      }
      const size_t m = std::min<uint64_t>(len - c.off, rest.size());
      // Up to where the bytes continue the message.
      const size_t same = c.off + m <= script_.sends[c.w][c.k].size
                              ? MpMismatch(c.w, c.k, c.off, rest.first(m))
                              : 0;
      c.off += same;
      got_[c.w][c.k] += same;
      pos += same;
      stream_pos_ += same;
      if (same < m) return StreamMismatch(got, pos);
      if (c.off == script_.sends[c.w][c.k].size) open_.reset();
      continue;
    }
    // Which writer's next message these bytes begin, by their first few
    // (the rest is checked as it comes, so a torn message is named where
    // it is cut). The first byte carries the writer's mark (MpPayloadView),
    // so one byte tells the writers apart; an empty send (no bytes) that
    // fits is opened and passed over above.
    std::optional<Cursor> fit;
    for (uint32_t w = 1; w <= script_.writers && !fit; ++w) {
      std::optional<uint64_t> k = Candidate(w);
      if (!k) continue;
      const size_t m = std::min<uint64_t>({Length(w, *k), rest.size(), 16});
      if (Matches(w, *k, 0, rest.first(m))) fit = Cursor{w, *k, 0};
    }
    if (!fit) return StreamMismatch(got, pos);
    open_ = fit;
    next_[fit->w] = fit->k + 1;
  }
  return "";
}

std::string MpReader::Begins(std::span<const std::byte> rest) const {
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    for (uint64_t j = next_[w]; j < script_.sends[w].size(); ++j) {
      const uint64_t n = std::min<uint64_t>({rest.size(), script_.sends[w][j].size, 16});
      if (n > 0 && Matches(w, j, 0, rest.first(n))) return Name(w, j);
    }
  }
  return "";
}

std::string MpReader::StreamMismatch(std::span<const std::byte> work, size_t pos) const {
  const std::span<const std::byte> rest = work.subspan(pos);
  if (open_) {
    const Cursor& c = *open_;
    const std::string msg =
        absl::StrFormat("%s (%s%s)", Name(c.w, c.k), ByteCount(script_.sends[c.w][c.k].size),
                        script_.writers > 1 ? ", one atomic write" : "");
    // The first bytes of another message may continue this one by chance
    // (one in 256 for the first): the cut is where that message begins.
    const size_t most = std::min<size_t>({pos, c.off, 16});
    for (size_t back = 0; back <= most; ++back) {
      const std::string begins = Begins(work.subspan(pos - back));
      if (begins.empty()) continue;
      return absl::StrFormat("at stream byte %d, %s was cut after %d bytes by the start of %s",
                             stream_pos_ - back, msg, c.off - back, begins);
    }
    return absl::StrFormat("at stream byte %d, %s differs from its byte %d on", stream_pos_, msg,
                           c.off);
  }
  const std::string at = absl::StrFormat("at stream byte %d", stream_pos_);
  const std::string begins = Begins(rest);
  std::vector<std::string> want;
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    if (std::optional<uint64_t> k = Candidate(w)) want.push_back(Name(w, *k));
  }
  const std::string expected =
      want.empty() ? "nothing more was sent"
                   : absl::StrCat("expected the start of ", absl::StrJoin(want, " or "));
  if (!begins.empty()) return absl::StrFormat("%s, %s, got the start of %s", at, expected, begins);
  return absl::StrFormat("%s, %s, got %d bytes that begin no message sent", at, expected,
                         rest.size());
}

std::string MpReader::OnCounter(std::span<const std::byte> got) {
  if (got.size() != 8) return absl::StrFormat("expected 8 bytes (a counter), got %d", got.size());
  uint64_t v;
  std::memcpy(&v, got.data(), sizeof v);
  if (v == 0) return "a counter read returned 0";
  sum_read_ += v;
  uint64_t most = 0;  // published values, and one send in flight per writer
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    const uint32_t done = shared_->writers[w].done.load(std::memory_order_acquire);
    for (uint32_t k = 0; k < done; ++k) {
      if (shared_->writers[w].taken[k] == 8) most += MpCounterValue(w, k);
    }
    if (done < script_.sends[w].size() && script_.sends[w][done].delivers) {
      most += MpCounterValue(w, done);
    }
  }
  if (sum_read_ > most) {
    return absl::StrFormat("read %d (%d in all), but the writers had added at most %d", v,
                           sum_read_, most);
  }
  return "";
}

std::string MpReader::OnCode(int rc, uint64_t cap, bool blocking) {
  const Capabilities& c = script_.caps;
  switch (rc) {
    case kEnd:
      return OnEnd();
    case -EAGAIN:
      return blocking ? "a blocking receive returned -EAGAIN" : "";
    case -ETIMEDOUT:
      return absl::StrFormat("nothing arrived within the hang grace, though it was owed %s",
                             Owing());
    case -EINVAL:
      if (c.model == ModelClass::kCounter && cap < 8) return "";
      break;
    case -EMSGSIZE: {
      if (c.framing != Framing::kMessage) break;
      if (c.max_message > 0 && cap < c.max_message) return "";  // a queue that insists
      for (uint32_t w = 1; w <= script_.writers; ++w) {
        std::optional<uint64_t> k = Candidate(w);
        if (k && cap < script_.sends[w][*k].size) return "";
      }
      return absl::StrFormat("expected a message (%d bytes hold any owed: %s), got -EMSGSIZE", cap,
                             Owing());
    }
    default:
      break;
  }
  return absl::StrFormat("expected data%s, got %s", c.peer_close ? " or end of stream" : "",
                         props::Errno(rc));
}

std::string MpReader::OnEnd() {
  if (ended_) return "";
  // Without peer_close END may still come, once every writer has closed
  // (plugin.h): the same checks.
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    if (shared_->StateOf(w) == kRunning) {
      return absl::StrFormat("end of stream while writer %d is still open (at step %d)", w,
                             shared_->writers[w].at_step.load());
    }
  }
  if (Pending()) {
    return absl::StrFormat("end of stream before %s arrived", Owing());
  }
  ended_ = true;
  return "";
}

std::string MpReader::FinalCheck() const {
  const bool message = script_.caps.framing == Framing::kMessage;
  for (uint32_t w = 1; w <= script_.writers; ++w) {
    const WriterShared& ws = shared_->writers[w];
    for (uint64_t k = 0; k < got_[w].size(); ++k) {
      if (got_[w][k] == 0) continue;
      const int64_t taken = k < ws.done.load() ? ws.taken[k] : -1;
      const uint64_t arrived = message ? got_[w][k] - 1 : got_[w][k];
      if (taken < 0 || arrived > static_cast<uint64_t>(taken)) {
        return absl::StrFormat("%d bytes of %s arrived, but its send returned %s", arrived,
                               Name(w, k),
                               taken < 0 ? props::Errno(ws.rc[k]) : absl::StrCat(taken, " bytes"));
      }
    }
  }
  if (const uint64_t sent = SentEmpties(); spare_empties_ > sent) {
    return absl::StrFormat(
        "%d empty messages arrived that no writer owed (the writers' next messages hold %d "
        "empty ones)",
        spare_empties_, sent);
  }
  if (script_.caps.model == ModelClass::kCounter && Pending()) {
    return absl::StrFormat("read %d in all, less than the writers added", sum_read_);
  }
  return "";
}

}  // namespace ipcspec::mp
