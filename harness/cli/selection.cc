#include "harness/cli/selection.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "harness/cli/flags.h"
#include "ipcspec/registry.h"

namespace ipcspec {
namespace {

bool Glob(std::string_view glob, std::string_view name) {
  return ::fnmatch(std::string(glob).c_str(), std::string(name).c_str(), 0) == 0;
}

std::vector<std::string_view> Globs(std::string_view filter) {
  std::vector<std::string_view> out;
  for (absl::string_view g :
       absl::StrSplit(absl::string_view(filter.data(), filter.size()), ',', absl::SkipEmpty())) {
    out.emplace_back(g.data(), g.size());
  }
  return out;
}

// Edits (insert, delete, replace) that turn a into b, case-blind.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const bool same = std::toupper(static_cast<unsigned char>(a[i - 1])) ==
                        std::toupper(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// All names when they are few; else the nearest few, and how to see them all.
std::string Known(std::string_view g, const std::vector<std::string>& names) {
  if (names.size() <= 30) return absl::StrCat("known: ", absl::StrJoin(names, ", "));
  std::vector<std::pair<size_t, std::string>> near;
  for (const std::string& n : names) {
    if (const size_t d = EditDistance(g, n); d <= std::max<size_t>(2, g.size() / 3)) {
      near.emplace_back(d, n);
    }
  }
  std::sort(near.begin(), near.end());
  if (near.size() > 5) near.resize(5);
  std::vector<std::string> said;
  for (const auto& [d, n] : near) said.push_back(n);
  return absl::StrCat(
      said.empty() ? "" : absl::StrCat("did you mean ", absl::StrJoin(said, ", "), "? "),
      "`ipcspec list` names all ", names.size());
}

void CheckEveryGlobMatches(std::string_view filter, const std::vector<std::string>& names,
                           std::string_view what) {
  for (std::string_view g : Globs(filter)) {
    if (g.front() == '-') g.remove_prefix(1);
    bool any = false;
    for (const std::string& n : names) any = any || Glob(g, n);
    if (!any) {
      throw UsageError{absl::StrFormat("unknown %s '%s'; %s", what, g, Known(g, names))};
    }
  }
}

}  // namespace

Shard ShardFromEnv(bool touch_status_file) {
  Shard s;
  const char* total = std::getenv("GTEST_TOTAL_SHARDS");
  const char* index = std::getenv("GTEST_SHARD_INDEX");
  if (total == nullptr && index == nullptr) return s;
  if (total == nullptr || index == nullptr || !absl::SimpleAtoi(total, &s.total) ||
      !absl::SimpleAtoi(index, &s.index) || s.total < 1 || s.index < 0 || s.index >= s.total) {
    // Say which rule is broken: a variable unset, not a whole number, or
    // out of range.
    const bool numbers = total != nullptr && index != nullptr &&
                         absl::SimpleAtoi(total, &s.total) && absl::SimpleAtoi(index, &s.index);
    throw UsageError{
        absl::StrFormat("bad sharding environment: GTEST_TOTAL_SHARDS=%s GTEST_SHARD_INDEX=%s (%s)",
                        total ? total : "(unset)", index ? index : "(unset)",
                        total == nullptr || index == nullptr ? "set both, or neither"
                        : !numbers                           ? "both must be whole numbers"
                                                             : "need 0 <= index < total")};
  }
  const char* status = std::getenv("GTEST_SHARD_STATUS_FILE");
  if (touch_status_file && status != nullptr && *status != '\0') {
    if (!WriteFileAtomically(status, "").ok()) {
      throw UsageError{absl::StrCat("cannot write GTEST_SHARD_STATUS_FILE ", status)};
    }
  }
  return s;
}

bool FilterMatches(std::string_view filter, std::string_view name) {
  bool any_positive = false, included = false;
  for (std::string_view g : Globs(filter)) {
    if (g.front() == '-') {
      if (Glob(g.substr(1), name)) return false;
    } else {
      any_positive = true;
      included = included || Glob(g, name);
    }
  }
  return included || !any_positive;
}

Selection Select(std::string_view transport_filter, std::string_view property_filter, Shard shard) {
  std::vector<std::string> tnames, pnames;
  for (const Transport* t : TransportRegistry::Global().All()) tnames.emplace_back(t->name());
  for (const Property* p : PropertyRegistry::Global().All()) pnames.emplace_back(p->id());
  CheckEveryGlobMatches(transport_filter, tnames, "transport");
  CheckEveryGlobMatches(property_filter, pnames, "property");
  Selection s;
  for (const Transport* t : TransportRegistry::Global().All()) {
    if (FilterMatches(transport_filter, t->name())) s.transports.push_back(t);
  }
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (FilterMatches(property_filter, p->id())) s.properties.push_back(p);
  }
  std::vector<NotApplicable> not_applicable;
  for (const Transport* t : s.transports) {
    for (const Property* p : s.properties) {
      if (Applicability a = p->AppliesTo(*t); !a.applies) {
        not_applicable.push_back({std::string(t->name()), std::string(p->id()), a.reason});
        continue;
      }
      if (static_cast<int>(s.applicable++ % shard.total) == shard.index) s.run.push_back({t, p});
    }
  }
  // Split like the applicable pairs, so that the shards' counts add up to
  // the whole run's; where nothing applies, every shard says why.
  for (size_t i = 0; i < not_applicable.size(); ++i) {
    if (s.applicable == 0 || static_cast<int>(i % shard.total) == shard.index) {
      s.not_applicable.push_back(std::move(not_applicable[i]));
    }
  }
  return s;
}

std::string PropertyFamily(std::string_view id) {
  for (std::string_view two : {"SYSV-MSG-", "POSIX-MQ-"}) {
    if (id.substr(0, two.size()) == two) return std::string(two.substr(0, two.size() - 1));
  }
  return std::string(id.substr(0, id.find('-')));
}

}  // namespace ipcspec
