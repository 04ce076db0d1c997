#include "harness/cli/flags.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ipcspec {
namespace {

const FlagSpec* FindSpec(std::span<const FlagSpec> specs, std::string_view name) {
  for (const FlagSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool ParseBool(std::string_view v, bool* out) {
  if (v == "true" || v == "1" || v == "yes") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string Flags::Get(std::string_view name, std::string_view fallback) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? std::string(fallback) : it->second.back();
}

std::vector<std::string> Flags::All(std::string_view name) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

std::string Flags::Joined(std::string_view name, std::string_view fallback) const {
  return Has(name) ? absl::StrJoin(All(name), ",") : std::string(fallback);
}

int64_t Flags::Int(std::string_view name, int64_t fallback, int64_t min, int64_t max) const {
  if (!Has(name)) return fallback;
  const std::string v = Get(name);
  int64_t n;
  // Digits only (SimpleAtoi would take " 5" and "+5" too).
  const bool digits = !v.empty() &&
                      v.find_first_not_of("0123456789", v[0] == '-' ? 1 : 0) == std::string::npos &&
                      v != "-";
  if (!digits || !absl::SimpleAtoi(v, &n) || n < min || n > max) {
    throw UsageError{
        absl::StrFormat("--%s=%s: expected a whole number from %d to %d", name, v, min, max)};
  }
  return n;
}

absl::Duration Flags::Duration(std::string_view name, absl::Duration fallback, absl::Duration min,
                               absl::Duration max) const {
  if (!Has(name)) return fallback;
  const std::string v = Get(name);
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < min || d > max) {
    throw UsageError{absl::StrFormat("--%s=%s: expected a duration from %s to %s, such as 500ms",
                                     name, v, absl::FormatDuration(min),
                                     absl::FormatDuration(max))};
  }
  return d;
}

Flags ParseFlags(std::span<char* const> args, std::span<const FlagSpec> specs) {
  Flags f;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      f.positional_.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      f.help_ = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") throw UsageError{absl::StrCat("unknown flag ", std::string(arg))};
    std::string name(arg.substr(2));
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) throw UsageError{absl::StrCat("unknown flag --", name)};
    if (spec->value.empty()) {
      bool on = true;
      if (value && !ParseBool(*value, &on)) {
        throw UsageError{absl::StrFormat("--%s=%s: expected true or false", name, *value)};
      }
      if (!on) {
        f.values_.erase(name);
        continue;
      }
      value = "true";
    } else if (!value) {
      if (i + 1 >= args.size()) {
        throw UsageError{absl::StrFormat("--%s needs a value: --%s=%s", name, name, spec->value)};
      }
      // "--json --property=X" forgot the value: taking the next flag for it
      // would run another selection and write a file named like a flag.
      const std::string_view next = args[i + 1];
      if (next.substr(0, 2) == "--") {
        throw UsageError{absl::StrFormat(
            "--%s needs a value, and the next argument, '%s', is a flag (--%s=%s; a value that "
            "begins with -- goes after '=')",
            name, std::string(next), name, spec->value)};
      }
      value = args[++i];
    }
    if (value->empty()) {
      throw UsageError{absl::StrFormat("--%s= is empty: --%s=%s", name, name, spec->value)};
    }
    std::vector<std::string>& slot = f.values_[name];
    if (!spec->repeated) slot.clear();
    slot.push_back(*value);
  }
  return f;
}

std::string FlagHelp(std::string_view usage, std::string_view what,
                     std::span<const FlagSpec> specs) {
  std::string out = absl::StrFormat("usage: %s\n%s\n\nflags:\n", usage, what);
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& s : specs) {
    left.push_back(s.value.empty() ? absl::StrFormat("--%s", s.name)
                                   : absl::StrFormat("--%s=%s", s.name, s.value));
    if (s.repeated) left.back() += " ...";
    width = std::max(width, left.back().size());
  }
  left.push_back("-h, --help");
  for (size_t i = 0; i < left.size(); ++i) {
    absl::StrAppendFormat(&out, "  %-*s  %s\n", width, left[i],
                          i < specs.size() ? specs[i].help : "this help");
  }
  return out;
}

std::optional<Flags> ParseCommandFlags(std::span<char* const> args, const CommandHelp& help) {
  Flags f = ParseFlags(args, help.flags);
  if (!f.help()) return f;
  std::cout << FlagHelp(help.usage, help.what, help.flags);
  return std::nullopt;
}

}  // namespace ipcspec
