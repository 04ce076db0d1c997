#include "properties/support/catalogue.h"

#include <optional>
#include <set>
#include <utility>

#include "nlohmann/json.hpp"

namespace ipcspec::props {
namespace {

// Filled before main by the generated EmbeddedCatalogue definitions.
std::vector<CatalogueFile>& EmbeddedFiles() {
  static auto* files = new std::vector<CatalogueFile>();
  return *files;
}

// An entry's prose, when it is {"summary": "...", "reference": "..."}.
std::optional<Prose> ReadEntry(const nlohmann::json& entry) {
  const bool shaped = entry.is_object() && entry.size() == 2 && entry.contains("summary") &&
                      entry.contains("reference") && entry["summary"].is_string() &&
                      entry["reference"].is_string();
  if (!shaped) return std::nullopt;
  return Prose{entry["summary"].get<std::string>(), entry["reference"].get<std::string>()};
}

void Read(const CatalogueFile& file, Catalogue* c) {
  // nlohmann::json keeps one of two equal keys: the IDs are also noted as
  // they are parsed, duplicates kept.
  std::vector<std::string> ids;
  nlohmann::json::parser_callback_t note = [&ids](int depth, nlohmann::json::parse_event_t event,
                                                  nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      ids.push_back(parsed.get<std::string>());
    }
    return true;
  };
  const nlohmann::json doc = nlohmann::json::parse(file.json, note, /*allow_exceptions=*/false);
  const std::string in = std::string(file.path) + ": ";
  if (!doc.is_object()) {
    c->problems.push_back(in + "not a JSON object of entries");
    return;
  }
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) c->problems.push_back(in + id + " twice");
  }
  for (const auto& [id, entry] : doc.items()) {
    std::optional<Prose> prose = ReadEntry(entry);
    if (!prose) {
      c->problems.push_back(in + id + R"( is not {"summary": "...", "reference": "..."})");
    } else if (!c->entries.emplace(id, *std::move(prose)).second) {
      c->problems.push_back(in + id + " is in another catalogue too");
    }
  }
}

}  // namespace

Catalogue ReadCatalogues(std::span<const CatalogueFile> files) {
  Catalogue c;
  for (const CatalogueFile& file : files) Read(file, &c);
  return c;
}

const Catalogue& BuiltinCatalogue() {
  static const auto* catalogue = new Catalogue(ReadCatalogues(EmbeddedFiles()));
  return *catalogue;
}

const Prose* FindProse(std::string_view id) {
  const auto& entries = BuiltinCatalogue().entries;
  auto it = entries.find(id);
  return it != entries.end() ? &it->second : nullptr;
}

EmbeddedCatalogue::EmbeddedCatalogue(std::string_view path, std::string_view json) {
  EmbeddedFiles().push_back({path, json});
}

}  // namespace ipcspec::props
