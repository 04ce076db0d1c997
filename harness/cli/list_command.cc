// `ipcspec list`: the transports, the properties and, with the same filters
// as `run`, what a run would check (a dry run).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "harness/cli/anchors.h"
#include "harness/cli/commands.h"
#include "harness/cli/console.h"
#include "harness/cli/selection.h"
#include "ipcspec/registry.h"
#include "nlohmann/json.hpp"

namespace ipcspec {
namespace {

using Json = nlohmann::ordered_json;

constexpr auto kListFlags = SelectionFlagsAnd({
    {"format", "text|json|markdown", "text (default), JSON for tools, or the spec page"},
    {"verbose", "", "name every pair that does not apply, with the reason"},
});

const CommandHelp kListHelp = {
    .usage = "ipcspec list [flags]",
    .what =
        "Lists the transports and properties, and what `ipcspec run` with the "
        "same filters would check.",
    .flags = kListFlags};

// Properties that measure time share one ctest RESOURCE_LOCK, so that
// `ctest -j` does not run two of them against each other.
std::string ResourceLock(std::string_view id) {
  return id == "G-TIMEOUT" || id == "POSIX-MQ-ETIMEDOUT" || id == "G-PEER-CRASH" ? "ipcspec-clock"
                                                                                 : "";
}

// A plugin's `named` is null: the ABI has no flag for its naming (CapsText).
Json CapsJson(const Transport& t) {
  const Capabilities& c = t.caps();
  const Json named =
      TransportRegistry::Global().IsBuiltin(t.name()) ? Json(c.named) : Json(nullptr);
  return {{"framing", c.framing == Framing::kStream ? "stream" : "message"},
          {"direction", c.direction == Direction::kOneWay ? "one-way" : "duplex"},
          {"reliable", c.reliable},
          {"ordered", c.ordered},
          {"multi_writer", c.multi_writer},
          {"peer_close", c.peer_close},
          {"named", named},
          {"model", std::string(ModelClassName(c.model))},
          {"max_message", c.max_message},
          {"capacity", c.capacity},
          {"atomic_write", c.atomic_write},
          {"max_queued", c.max_queued},
          {"realtime", c.realtime},
          {"one_end_per_process", c.one_end_per_process},
          {"close_only", c.peer_close && !c.end_on_death},
          {"exact_capacity", c.overhead == Overhead::kNone},
          {"short_recv", c.short_recv == ShortRecv::kKeeps   ? "keeps"
                         : c.short_recv == ShortRecv::kDrops ? "drops"
                                                             : "either"}};
}

// A plugin's naming is not known (the ABI has no flag for it: its `named`
// is false whatever the transport does).
std::string CapsText(const Transport& t) {
  const Capabilities& c = t.caps();
  const bool builtin = TransportRegistry::Global().IsBuiltin(t.name());
  std::vector<std::string> parts = {c.framing == Framing::kStream ? "stream" : "message",
                                    c.direction == Direction::kOneWay ? "one-way" : "duplex",
                                    std::string(ModelClassName(c.model))};
  if (c.reliable) parts.push_back("reliable");
  if (c.ordered) parts.push_back("ordered");
  if (c.multi_writer) parts.push_back("multi-writer");
  if (c.peer_close) parts.push_back("peer-close");
  parts.push_back(!builtin ? "naming-unknown" : c.named ? "named" : "anonymous");
  if (!c.realtime) parts.push_back("not-realtime");
  if (c.one_end_per_process) parts.push_back("one-end-per-process");
  if (c.peer_close && !c.end_on_death) parts.push_back("close-only");
  if (c.overhead == Overhead::kNone) parts.push_back("exact-capacity");
  if (c.short_recv == ShortRecv::kKeeps) parts.push_back("short-recv-keeps");
  if (c.short_recv == ShortRecv::kDrops) parts.push_back("short-recv-drops");
  if (c.max_message) parts.push_back(absl::StrCat("max_message=", c.max_message));
  if (c.capacity) parts.push_back(absl::StrCat("capacity=", c.capacity));
  if (c.atomic_write) parts.push_back(absl::StrCat("atomic_write=", c.atomic_write));
  if (c.max_queued) parts.push_back(absl::StrCat("max_queued=", c.max_queued));
  return absl::StrJoin(parts, " ");
}

std::vector<std::string> AppliesTo(const Property* p, const Selection& s) {
  std::vector<std::string> out;
  for (const Transport* t : s.transports) {
    if (p->AppliesTo(*t).applies) out.emplace_back(t->name());
  }
  return out;
}

std::string ListJson(const Selection& s) {
  Json j = {{"schema", 1}, {"transports", Json::array()}, {"properties", Json::array()}};
  for (const Transport* t : s.transports) {
    j["transports"].push_back({{"name", t->name()},
                               {"description", t->description()},
                               {"builtin", TransportRegistry::Global().IsBuiltin(t->name())},
                               {"caps", CapsJson(*t)}});
  }
  for (const Property* p : s.properties) {
    j["properties"].push_back({{"id", p->id()},
                               {"family", PropertyFamily(p->id())},
                               {"summary", p->summary()},
                               {"reference", p->reference()},
                               {"default_examples", p->DefaultExamples()},
                               {"resource_lock", ResourceLock(p->id())},
                               {"applies_to", AppliesTo(p, s)}});
  }
  j["run"] = Json::array();
  for (const SelectedPair& pr : s.run) {
    j["run"].push_back({{"transport", pr.transport->name()},
                        {"property", pr.property->id()},
                        {"family", PropertyFamily(pr.property->id())},
                        {"resource_lock", ResourceLock(pr.property->id())}});
  }
  j["not_applicable"] = Json::array();
  for (const NotApplicable& n : s.not_applicable) {
    j["not_applicable"].push_back(
        {{"transport", n.transport}, {"property", n.property}, {"reason", n.reason}});
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

// The specification page (docs/spec.md), from the same registries.
std::string SpecPage(const Selection& s) {
  auto cell = [](std::string_view v) {
    return absl::StrReplaceAll(std::string(v), {{"|", "\\|"}});
  };
  std::string out =
      "# ipcspec specification\n\n"
      "Generated by `ipcspec list --format=markdown` from the registries the command line runs;\n"
      "a test checks that this page is up to date.\n\n## Transports\n\n"
      "| transport | description | capabilities |\n|---|---|---|\n";
  for (const Transport* t : s.transports) {
    absl::StrAppend(&out, "| `", cell(t->name()), "` | ", cell(t->description()), " | ",
                    CapsText(*t), " |\n");
  }
  out += "\n## Properties\n\n| ID | statement | reference | applies to |\n|---|---|---|---|\n";
  for (const Property* p : s.properties) {
    std::vector<std::string> applies = AppliesTo(p, s);
    for (std::string& a : applies) a = absl::StrCat("`", a, "`");
    absl::StrAppend(&out, "| ", cell(p->id()), " | ", cell(p->summary()), " | ",
                    cell(p->reference()), " | ",
                    applies.empty() ? "(none here)" : absl::StrJoin(applies, ", "), " |\n");
  }
  return out + AnchorSection(s.properties);
}

void ListText(const Selection& s, Shard shard, bool verbose, std::ostream& os) {
  os << "Transports:\n";
  for (const Transport* t : s.transports) {
    os << absl::StrFormat("  %-22s %s\n  %-22s %s\n", t->name(), t->description(), "",
                          CapsText(*t));
  }
  os << "\nProperties:\n";
  // A property that applies to none of the selected transports is only
  // counted, unless --verbose: `--transport=plugin_x` lists what checks it.
  size_t none = 0;
  for (const Property* p : s.properties) {
    const std::vector<std::string> applies = AppliesTo(p, s);
    if (applies.empty() && !verbose) {
      ++none;
      continue;
    }
    os << absl::StrFormat("  %-22s %s\n  %-22s reference: %s\n  %-22s applies to: %s\n", p->id(),
                          p->summary(), "", p->reference(), "",
                          applies.empty() ? "(none)" : absl::StrJoin(applies, ", "));
  }
  if (none > 0) {
    os << absl::StrFormat("  (%s to none of these transports; --verbose lists them)\n",
                          none == 1 ? std::string("1 other property applies")
                                    : absl::StrFormat("%d other properties apply", none));
  }
  os << absl::StrFormat("\n`ipcspec run` with these filters would check %s",
                        Plural(static_cast<int64_t>(s.run.size()), "pair"));
  if (shard.total > 1) os << absl::StrFormat(" (shard %d of %d)", shard.index + 1, shard.total);
  os << absl::StrFormat("; %s not apply%s\n",
                        s.not_applicable.size() == 1
                            ? std::string("1 pair does")
                            : absl::StrFormat("%d pairs do", s.not_applicable.size()),
                        s.not_applicable.empty() ? ""
                        : verbose                ? ":"
                                                 : " (--verbose shows why)");
  if (verbose) {
    for (const NotApplicable& n : s.not_applicable) {
      os << absl::StrFormat("  %-22s %-22s %s\n", n.transport, n.property, n.reason);
    }
  }
}

}  // namespace

int ListCommand(std::span<char* const> args) {
  const std::optional<Flags> parsed = ParseCommandFlags(args, kListHelp);
  if (!parsed) return 0;  // --help
  const Flags& f = *parsed;
  if (!f.positional().empty()) throw UsageError{"list takes no arguments"};
  const std::string format = f.Get("format", "text");
  if (format != "text" && format != "json" && format != "markdown") {
    throw UsageError{absl::StrCat("--format=", format, ": expected text, json or markdown")};
  }
  LoadPlugins(f.All("plugin"));
  const Shard shard = ShardFromEnv(/*touch_status_file=*/false);
  const Selection s = Select(f.Joined("transport", "*"), f.Joined("property", "*"), shard);
  if (format == "json") {
    std::cout << ListJson(s);
  } else if (format == "markdown") {
    std::cout << SpecPage(s);
  } else {
    ListText(s, shard, f.Has("verbose"), std::cout);
  }
  return 0;
}

}  // namespace ipcspec
