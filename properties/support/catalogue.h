// properties/support/catalogue.h: the prose of the built-in properties, kept
// as data beside their code. Each folder of properties has a catalogue.json
// (properties/<kind>/catalogue.json, and fuzz/catalogue.json for the fuzz
// engine's own properties) that maps each property's ID to its summary and
// its reference:
//
//   {
//     "SIG-IGNORE": {
//       "summary": "a signal whose disposition is SIG_IGN is discarded ...",
//       "reference": "signal(7); POSIX XSH 2.4.3; ..."
//     }
//   }
//
// The build embeds the files (cmake/catalogue.cmake) and registers them at
// start-up without reading them; they are parsed on the first look-up, so a
// process that never shows a summary (a fuzz target, a forked case) never
// parses them. A built-in property names only its ID in code
// (its registration, property_base.h); tests/catalogue_test.cc checks
// that every registered property has exactly one entry and every entry a
// registered property.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_CATALOGUE_H_
#define IPCSPEC_PROPERTIES_SUPPORT_CATALOGUE_H_

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ipcspec::props {

// One property's prose.
struct Prose {
  std::string summary;    // one line: the rule
  std::string reference;  // man pages, POSIX, the public suites that check it
};

// One catalogue.json: where it is in the source tree, and its text.
struct CatalogueFile {
  std::string_view path, json;
};

struct Catalogue {
  std::map<std::string, Prose, std::less<>> entries;  // by ID
  // What is wrong, one line each naming the file and the ID: a file that is
  // not a JSON object, an entry that is not {"summary": "...",
  // "reference": "..."}, an ID named twice. Empty when nothing is.
  std::vector<std::string> problems;
};

// Reads catalogue files; an ID found twice keeps its first entry.
Catalogue ReadCatalogues(std::span<const CatalogueFile> files);

// The embedded catalogues, read on the first call.
const Catalogue& BuiltinCatalogue();

// The entry for `id` in BuiltinCatalogue(), or null when it has none.
const Prose* FindProse(std::string_view id);

// Hands one embedded file to BuiltinCatalogue(): the source file the build
// generates for a library's catalogues defines one of these per file, before
// main. `json` must outlive the program (a string literal).
struct EmbeddedCatalogue {
  EmbeddedCatalogue(std::string_view path, std::string_view json);
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_CATALOGUE_H_
