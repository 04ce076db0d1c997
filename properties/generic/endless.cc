#include "properties/generic/endless.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace ipcspec::props {

std::vector<std::byte> Endless::Bytes(uint64_t i) const {
  if (c_.model != ModelClass::kCounter) {
    const Sent m = Nth(i);
    return Payload(m.writer, m.msg, m.size);
  }
  const uint64_t add = i + 1;
  std::vector<std::byte> data(sizeof add);
  std::memcpy(data.data(), &add, sizeof add);
  return data;
}

std::string Endless::OnMessage(std::span<const std::byte> got, uint64_t sent, bool killed) {
  // What may come: the completed sends and the one in progress.
  const uint64_t limit = sent + 2;
  const char* torn = killed ? " (torn by the writer's death?)" : "";
  if (!c_.ordered) {
    if (seen_.size() < limit) seen_.resize(limit, false);
    for (uint64_t j = 0; j < limit; ++j) {
      if (!seen_[j] && IsPayload(got, Nth(j))) {
        seen_[j] = true;
        ++received_;
        return "";
      }
    }
    return absl::StrFormat("a %d-byte message that was never sent, or came twice%s", got.size(),
                           torn);
  }
  for (uint64_t j = next_; j < std::max(limit, next_ + 1); ++j) {
    if (IsPayload(got, Nth(j))) {
      next_ = j + 1;
      ++received_;
      return "";
    }
    if (c_.reliable) break;
  }
  // Another whole message of the sequence is no tear: say which.
  for (uint64_t j = 0; j < limit; ++j) {
    if (j == next_ || !IsPayload(got, Nth(j))) continue;
    return j > next_ ? absl::StrFormat("%s arrived where %s was due (lost, or the two reordered)",
                                       Name(Nth(j)), Name(Nth(next_)))
                     : absl::StrFormat("%s arrived again where %s was due (a duplicate)",
                                       Name(Nth(j)), Name(Nth(next_)));
  }
  return absl::StrFormat("%s arrived as %d bytes that do not match%s", Name(Nth(next_)), got.size(),
                         torn);
}

std::string Endless::OnBytes(std::span<const std::byte> got) {
  for (size_t i = 0; i < got.size();) {
    const Sent m = Nth(next_);
    const size_t n = std::min<uint64_t>(m.size - offset_, got.size() - i);
    const size_t k = PayloadMismatch(m.writer, m.msg, offset_, got.subspan(i, n));
    if (k < n) {
      return absl::StrFormat("stream corrupted in %s at byte %d", Name(m), offset_ + k);
    }
    i += n;
    offset_ += n;
    if (offset_ == m.size) {
      ++next_;
      offset_ = 0;
    }
  }
  received_ += got.size();
  return "";
}

std::string Endless::OnCounter(std::span<const std::byte> got) {
  uint64_t v = 0;
  if (got.size() != 8) return absl::StrFormat("a counter read gave %d bytes", got.size());
  std::memcpy(&v, got.data(), 8);
  if (v == 0) return "a counter read gave 0";
  sum_ += v;
  while ((received_ + 1) * (received_ + 2) / 2 <= sum_) ++received_;
  return "";
}

std::string Endless::Covers(uint64_t sent, uint64_t sent_bytes, std::string_view when) const {
  if (c_.model == ModelClass::kCounter) {
    const uint64_t low = sent * (sent + 1) / 2, high = (sent + 1) * (sent + 2) / 2;
    if (sum_ < low || sum_ > high) {
      return absl::StrFormat(
          "the counter read %d in all; %d adds completed %s "
          "(sum %d, or %d with the one in progress)",
          sum_, sent, std::string(when), low, high);
    }
    return "";
  }
  if (c_.framing == Framing::kStream) {
    if (c_.reliable && received_ < sent_bytes) {
      return absl::StrFormat("%d stream bytes arrived; %d were reported sent %s", received_,
                             sent_bytes, std::string(when));
    }
    return received_ > BytesBefore(sent + 1)
               ? absl::StrFormat("%d stream bytes arrived; at most %d were sent", received_,
                                 BytesBefore(sent + 1))
               : "";
  }
  if (c_.reliable && received_ < sent) {
    return absl::StrFormat("%d messages arrived; %d were reported sent %s (%s lost)", received_,
                           sent, std::string(when), Name(Nth(received_)));
  }
  return received_ > sent + 1
             ? absl::StrFormat("%d messages arrived; at most %d were sent", received_, sent + 1)
             : "";
}

}  // namespace ipcspec::props
