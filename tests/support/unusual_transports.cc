#include "tests/support/unusual_transports.h"

#include <cstdlib>

#include "absl/strings/str_split.h"
#include "ipcspec/registry.h"

// The entry points of the built-in copies (quirk_util.h, QUIRK_ENTRY).
#define QUIRK(name, source, kind, broken, property) \
  extern "C" const ipcspec_transport* ipcspec_quirk_##name(void);
#include "tests/support/quirks.def"
#undef QUIRK

namespace ipcspec::testing {

const std::vector<QuirkInfo>& QuirkTransports() {
  static const auto* all = new std::vector<QuirkInfo>{
#define QUIRK(name, source, kind, broken, property) \
  {"quirk_" #name, (broken) != 0, property, &ipcspec_quirk_##name},
#include "tests/support/quirks.def"
#undef QUIRK
  };
  return *all;
}

void RegisterQuirkTransports() {
  TransportRegistry& reg = TransportRegistry::Global();
  for (const QuirkInfo& q : QuirkTransports()) {
    if (reg.Find(q.name) != nullptr) continue;
    absl::Status s = reg.Add(TransportFromAbi(q.entry(), "a correct but unusual test transport"),
                             /*builtin=*/false);
    if (!s.ok()) std::abort();
  }
}

std::string QuirkPlugin(const std::string& list, const std::string& name) {
  for (absl::string_view item : absl::StrSplit(list, '|')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    if (kv.first == name) return std::string(kv.second);
  }
  return "";
}

}  // namespace ipcspec::testing
