#include "ipcspec/property.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_format.h"

namespace ipcspec {

std::string Property::DescribeStep(const Step& s) const { return ipcspec::DescribeStep(s); }

std::string Property::DescribeSteps(const Scenario& s) const {
  std::string out = absl::StrFormat("%s on %s, %d %s:\n", s.property, s.transport, s.steps.size(),
                                    s.steps.size() == 1 ? "step" : "steps");
  for (size_t i = 0; i < s.steps.size(); ++i) {
    absl::StrAppendFormat(&out, "  %d. %s\n", i + 1, DescribeStep(s.steps[i]));
  }
  return out;
}

absl::Duration Property::CaseTimeout(const Scenario&, absl::Duration timeout) const {
  return timeout;
}

absl::Duration CaseTimeoutOf(const Scenario& s, absl::Duration timeout) {
  const Property* p = PropertyRegistry::Global().Find(s.property);
  return p == nullptr ? timeout : p->CaseTimeout(s, timeout);
}

std::string DescribeScenario(const Scenario& s) {
  const Property* p = PropertyRegistry::Global().Find(s.property);
  return p != nullptr ? p->DescribeSteps(s) : s.Describe();
}

PropertyRegistry& PropertyRegistry::Global() {
  static auto* registry = new PropertyRegistry();
  return *registry;
}

void PropertyRegistry::Add(std::unique_ptr<Property> p) {
  if (Find(p->id()) != nullptr) {
    std::fprintf(stderr, "ipcspec: duplicate property id %.*s\n", static_cast<int>(p->id().size()),
                 p->id().data());
    std::abort();
  }
  properties_.push_back(std::move(p));
  std::sort(properties_.begin(), properties_.end(),
            [](const auto& a, const auto& b) { return a->id() < b->id(); });
}

const Property* PropertyRegistry::Find(std::string_view id) const {
  for (const auto& p : properties_) {
    if (p->id() == id) return p.get();
  }
  return nullptr;
}

std::vector<const Property*> PropertyRegistry::All() const {
  std::vector<const Property*> out;
  for (const auto& p : properties_) out.push_back(p.get());
  return out;
}

}  // namespace ipcspec
