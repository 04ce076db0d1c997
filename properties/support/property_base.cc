#include "properties/support/property_base.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"
#include "properties/support/catalogue.h"

namespace ipcspec::props {

std::string SayNumber(uint64_t v) { return absl::StrCat(v); }
std::string SayBytes(uint64_t v) { return ByteCount(v); }
std::string SaySignal(uint64_t v) { return SignalName(static_cast<int>(v)); }
std::string SayMilliseconds(uint64_t v) { return absl::StrCat(v, " ms"); }
std::string SayYesNo(uint64_t v) { return v != 0 ? "yes" : "no"; }

std::string_view NameOf(std::span<const std::string_view> names, uint64_t v) {
  return names.empty() ? std::string_view("?") : names[v % names.size()];
}

std::string_view NamedProperty::summary() const {
  if (!catalogued_) return summary_;
  const Prose* prose = FindProse(id_);
  return prose != nullptr ? std::string_view(prose->summary) : std::string_view();
}

std::string_view NamedProperty::reference() const {
  if (!catalogued_) return reference_;
  const Prose* prose = FindProse(id_);
  return prose != nullptr ? std::string_view(prose->reference) : std::string_view();
}

rc::Gen<std::vector<ipcspec::Step>> NamedProperty::Steps(const Transport&) const {
  return rc::gen::exec([this] {
    std::vector<ipcspec::Step> steps;
    for (const ParamInfo& p : params_) {
      if (p.gen) steps.push_back(ipcspec::Step::Param(p.index, *(*p.gen)));
    }
    return steps;
  });
}

SendWords::SendWords(NamedProperty* owner, std::string_view words) { owner->SetSendWords(words); }

std::string NamedProperty::DescribeStep(const ipcspec::Step& s) const {
  if (s.op == Op::kParam) return SayParam(s);
  if (s.op == Op::kSend && !send_words_.empty()) return SaySend(s);
  return Property::DescribeStep(s);
}

std::string NamedProperty::SayParam(const ipcspec::Step& s) const {
  for (const ParamInfo& p : params_) {
    if (p.index == s.arg) {
      absl::string_view words(p.words.data(), p.words.size());
      // "one writer|%s writers": the words before the bar say a value of 1.
      if (const size_t bar = words.find('|'); bar != words.npos) {
        if (s.size == 1 && p.names.empty()) return std::string(words.substr(0, bar));
        words.remove_prefix(bar + 1);
      }
      auto format = absl::ParsedFormat<'s'>::New(words);
      const std::string value =
          p.names.empty() ? p.say(s.size) : std::string(NameOf(p.names, s.size));
      if (format == nullptr) return absl::StrCat(words, ": ", value);
      std::string said = absl::StrFormat(*format, value);
      // "1 messages", "1 times": the count's noun in the singular.
      if (value == "1") {
        for (const char* noun : {"messages", "times", "writers", "readers", "rounds"}) {
          const std::string plural = std::string("1 ") + noun;
          const size_t at = said.find(plural);
          const size_t end = at + plural.size();
          if (at != std::string::npos && (at == 0 || said[at - 1] == ' ') &&
              (end == said.size() || said[end] == ' ' || said[end] == ',')) {
            said.erase(end - 1, 1);
          }
        }
      }
      return said;
    }
  }
  return Property::DescribeStep(s);
}

std::string NamedProperty::SaySend(const ipcspec::Step& s) const {
  const absl::string_view words(send_words_.data(), send_words_.size());
  if (auto format = absl::ParsedFormat<'d', 's'>::New(words)) {
    return absl::StrFormat(*format, s.arg, SayBytes(s.size));
  }
  if (auto format = absl::ParsedFormat<'d', 'd', 's'>::New(words)) {
    return absl::StrFormat(*format, s.actor, s.arg, SayBytes(s.size));
  }
  return absl::StrCat(words, ": ", Property::DescribeStep(s));
}

}  // namespace ipcspec::props
