#include "properties/generic/oracle.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ipcspec::props {
namespace {

// Marker ids sit far above any writer id a property uses.
constexpr uint32_t kMarkerBase = 200;
// Explanations kept at once; payloads alike enough to need more are beyond
// what the properties generate.
constexpr size_t kMaxStates = 256;

// Received byte `k` of `got`, said; a run of kSentBufferPoison (eight
// bytes, or all that is left) is named for what it likely is.
std::string Byte(std::span<const std::byte> got, size_t k) {
  std::string said = absl::StrFormat("0x%02x", static_cast<int>(got[k]));
  const size_t run = std::min<size_t>(8, got.size() - k);
  const std::span<const std::byte> from = got.subspan(k, run);
  if (std::all_of(from.begin(), from.end(), [](std::byte b) { return b == kSentBufferPoison; })) {
    absl::StrAppend(&said,
                    " (a plugin's send buffer holds 0xdb once send() returned: did the transport "
                    "read the buffer after send() returned?)");
  }
  return said;
}

}  // namespace

Sent MarkerOf(uint32_t writer, const Capabilities& c) {
  const uint64_t size = c.max_message > 0 ? std::min<uint64_t>(16, c.max_message) : 16;
  return {kMarkerBase + writer, 0, size};
}

Expectation::Expectation(const Capabilities& c, std::vector<std::vector<Sent>> per_writer,
                         bool markers, std::vector<uint32_t> ids)
    : c_(c), per_(std::move(per_writer)), ids_(std::move(ids)), markers_(markers) {
  for (size_t i = ids_.size(); i < per_.size(); ++i) ids_.push_back(static_cast<uint32_t>(i + 1));
  marker_seen_.assign(per_.size(), false);
  states_.push_back(std::vector<uint32_t>(per_.size(), 0));
  for (const std::vector<Sent>& w : per_) {
    got_.emplace_back(w.size(), false);
    for (const Sent& m : w) stream_total_ += m.size;
  }
}

std::string Expectation::OnMessage(std::span<const std::byte> got) {
  if (markers_) {
    for (size_t i = 0; i < per_.size(); ++i) {
      if (IsPayload(got, MarkerOf(ids_[i], c_))) {
        marker_seen_[i] = true;
        return "";
      }
    }
  }
  std::string err = c_.ordered ? OnOrdered(got) : OnUnordered(got);
  if (err.empty()) ++received_;
  return err;
}

std::string Expectation::OnOrdered(std::span<const std::byte> got) {
  std::vector<std::vector<uint32_t>> next;
  for (const std::vector<uint32_t>& st : states_) {
    for (size_t i = 0; i < per_.size(); ++i) {
      if (markers_ && marker_seen_[i]) continue;  // nothing of its comes after its marker
      for (uint32_t j = st[i]; j < per_[i].size(); ++j) {
        if (IsPayload(got, per_[i][j])) {
          next.push_back(st);
          next.back()[i] = j + 1;
          break;
        }
        if (c_.reliable) break;  // no loss: only the next one may come
      }
    }
  }
  std::sort(next.begin(), next.end());
  next.erase(std::unique(next.begin(), next.end()), next.end());
  if (next.empty()) return Diagnose(got);
  if (next.size() > kMaxStates) next.resize(kMaxStates);
  states_ = std::move(next);
  return "";
}

void Expectation::Skip(size_t i) {
  for (std::vector<uint32_t>& st : states_) {
    if (st[i] < per_[i].size()) ++st[i];
  }
}

bool Expectation::IsNext(size_t i, std::span<const std::byte> got) const {
  const uint32_t j = states_.front()[i];
  return j < per_[i].size() && IsPayload(got, per_[i][j]);
}

std::string Expectation::OnUnordered(std::span<const std::byte> got) {
  first_missing_.resize(per_.size(), 0);
  for (size_t i = 0; i < per_.size(); ++i) {
    for (size_t j = first_missing_[i]; j < per_[i].size(); ++j) {
      if (!got_[i][j] && IsPayload(got, per_[i][j])) {
        got_[i][j] = true;
        while (first_missing_[i] < per_[i].size() && got_[i][first_missing_[i]])
          ++first_missing_[i];
        return "";
      }
    }
  }
  return Diagnose(got);
}

// Why `got` fits no explanation: which message it is and where it came.
std::string Expectation::Diagnose(std::span<const std::byte> got) const {
  const std::vector<uint32_t>& st = states_.front();
  for (size_t i = 0; i < per_.size(); ++i) {
    for (uint32_t j = 0; j < per_[i].size(); ++j) {
      const Sent& m = per_[i][j];
      if (!IsPayload(got, m)) continue;
      if (!c_.ordered) return absl::StrCat(Name(m), " arrived twice");
      if (markers_ && marker_seen_[i]) {
        return absl::StrCat(Name(m), " arrived after its writer's end marker (reordered)");
      }
      if (j < st[i]) {
        return c_.reliable ? absl::StrCat(Name(m), " arrived twice")
                           : absl::StrCat(Name(m), " arrived after ", Name(per_[i][st[i] - 1]),
                                          " (reordered or duplicated)");
      }
      return absl::StrCat("got ", Name(m), " where ", Name(per_[i][st[i]]), " was expected");
    }
  }
  if (per_.size() == 1 && c_.ordered && st[0] < per_[0].size()) {
    const Sent& want = per_[0][st[0]];
    if (got.size() != want.size) {
      return absl::StrFormat("a %d-byte message where %s was expected (merged, split or cut?)",
                             got.size(), Name(want));
    }
    const size_t k = PayloadMismatch(want.writer, want.msg, 0, got);
    return absl::StrFormat("%s corrupted at byte %d: expected 0x%02x, got %s", Name(want), k,
                           PatternByte(want.writer, want.msg, k), Byte(got, k));
  }
  if (Complete()) {
    return absl::StrFormat("a %d-byte message after everything sent arrived (duplicated?)",
                           got.size());
  }
  return absl::StrFormat("a %d-byte message that no writer sent (corrupt, torn or interleaved)",
                         got.size());
}

std::string Expectation::OnBytes(std::span<const std::byte> got) {
  if (per_.size() <= 1) return OnStreamBytes(got);
  if (interleaved_.size() + got.size() > stream_total_) return TooManyBytes();
  interleaved_.insert(interleaved_.end(), got.begin(), got.end());
  return interleaved_.size() == stream_total_ ? ParseInterleaved() : "";
}

std::string Expectation::TooManyBytes() const {
  return absl::StrFormat("more bytes than the %d sent (duplicated?)", stream_total_);
}

std::string Expectation::OnStreamBytes(std::span<const std::byte> got) {
  if (stream_pos_ + got.size() > stream_total_) return TooManyBytes();
  // Walk the messages that [stream_pos_, + got.size()) covers, from the
  // one the last call ended in (a cursor: 1-byte reads stay O(1) each).
  static const std::vector<Sent> kNone;
  const std::vector<Sent>& sent = per_.empty() ? kNone : per_[0];
  size_t done = 0;
  while (done < got.size() && stream_msg_ < sent.size()) {
    const Sent& m = sent[stream_msg_];
    const uint64_t pos = stream_pos_ + done;
    const uint64_t off = pos - stream_msg_start_;
    if (off >= m.size) {
      stream_msg_start_ += m.size;
      ++stream_msg_;
      continue;
    }
    const size_t n = std::min<uint64_t>(m.size - off, got.size() - done);
    const size_t k = PayloadMismatch(m.writer, m.msg, off, got.subspan(done, n));
    if (k < n) {
      return absl::StrFormat("stream byte %d (%s, byte %d): expected 0x%02x, got %s", pos + k,
                             Name(m), off + k, PatternByte(m.writer, m.msg, off + k),
                             Byte(got, done + k));
    }
    done += n;
  }
  stream_pos_ += got.size();
  return "";
}

// Takes several writers' interleaved stream apart, write by write: each
// write of at most atomic_write bytes must sit whole, in its writer's order.
std::string Expectation::ParseInterleaved() const {
  std::vector<size_t> next(per_.size(), 0);
  size_t pos = 0;
  while (pos < interleaved_.size()) {
    bool matched = false;
    for (size_t w = 0; w < per_.size() && !matched; ++w) {
      while (next[w] < per_[w].size() && per_[w][next[w]].size == 0) ++next[w];
      if (next[w] >= per_[w].size()) continue;
      const Sent& m = per_[w][next[w]];
      if (pos + m.size > interleaved_.size()) continue;
      if (IsPayload(std::span(interleaved_).subspan(pos, m.size), m)) {
        pos += m.size;
        ++next[w];
        matched = true;
      }
    }
    if (!matched) {
      return absl::StrFormat(
          "stream byte %d: no writer's next write starts here, so writes of at most %d bytes "
          "interleaved or were torn",
          pos, c_.atomic_write);
    }
  }
  return "";
}

bool Expectation::Complete() const {
  if (c_.framing == Framing::kStream) {
    const uint64_t have = per_.size() <= 1 ? stream_pos_ : interleaved_.size();
    return have == stream_total_ || stream_done_;
  }
  // A lossy transport's writers end with markers, and only a marker says a
  // writer is done: its messages having all come is no proof, since an
  // empty message (or any that two writers both send) may be explained as
  // one writer's last with the rest of its messages lost, before that
  // writer has sent anything (a reader that stopped there left the writer
  // no room for its bound).
  if (markers_) {
    return std::find(marker_seen_.begin(), marker_seen_.end(), false) == marker_seen_.end();
  }
  if (!c_.ordered) {
    for (size_t i = 0; i < per_.size(); ++i) {
      if (std::find(got_[i].begin(), got_[i].end(), false) != got_[i].end()) return false;
    }
    return true;
  }
  for (const std::vector<uint32_t>& st : states_) {
    bool all = true;
    for (size_t i = 0; i < per_.size() && all; ++i) all = st[i] == per_[i].size();
    if (all) return true;
  }
  return false;
}

std::string Expectation::Owed() const {
  if (c_.framing == Framing::kStream) {
    if (per_.size() > 1) {
      return absl::StrFormat("stream byte %d of %d", interleaved_.size(), stream_total_);
    }
    uint64_t start = 0;
    for (const Sent& m : per_.empty() ? std::vector<Sent>{} : per_[0]) {
      if (stream_pos_ < start + m.size) {
        return absl::StrFormat("stream byte %d (%s, byte %d)", stream_pos_, Name(m),
                               stream_pos_ - start);
      }
      start += m.size;
    }
    return "nothing";
  }
  for (size_t i = 0; i < per_.size(); ++i) {
    if (markers_ && marker_seen_[i]) continue;
    for (size_t j = 0; j < per_[i].size(); ++j) {
      const bool came = c_.ordered ? j < states_.front()[i] : got_[i][j];
      if (!came) return Name(per_[i][j]);
    }
    if (markers_) return absl::StrFormat("writer %d's end marker", ids_[i]);
  }
  return "nothing";
}

std::string ReceiveAll(End& end, const Capabilities& c, Expectation& e, int timeout_ms) {
  std::vector<std::byte> buf(DrainBufferSize(c));
  while (!e.Complete()) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, timeout_ms);
    if (rc == -EAGAIN && timeout_ms == 0) return "";
    if (rc != 0) {
      return absl::StrFormat("receiving %s: %s%s", e.Owed(), Errno(rc),
                             rc == -ETIMEDOUT ? absl::StrFormat(" after %d ms", timeout_ms) : "");
    }
    const std::span<const std::byte> got(buf.data(), n);
    std::string err = c.framing == Framing::kStream ? e.OnBytes(got) : e.OnMessage(got);
    if (!err.empty()) return err;
  }
  return "";
}

}  // namespace ipcspec::props
