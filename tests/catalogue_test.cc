// The prose of the built-in properties is data (properties/support/
// catalogue.h): every registered property has exactly one entry in the
// catalogue.json files and shows it, every entry names a registered
// property, and a malformed catalogue is reported, naming the file and the ID.
#include "properties/support/catalogue.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/property.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CatalogueTest, TheEmbeddedCataloguesHaveNoProblems) {
  EXPECT_THAT(BuiltinCatalogue().problems, IsEmpty());
}

TEST(CatalogueTest, EveryRegisteredPropertyShowsItsOneEntry) {
  for (const Property* p : PropertyRegistry::Global().All()) {
    const Prose* prose = FindProse(p->id());
    if (prose == nullptr) {
      ADD_FAILURE() << p->id() << " has no entry in the catalogue.json of its folder";
      continue;
    }
    EXPECT_FALSE(prose->summary.empty()) << p->id();
    EXPECT_FALSE(prose->reference.empty()) << p->id();
    EXPECT_EQ(p->summary(), prose->summary) << p->id();
    EXPECT_EQ(p->reference(), prose->reference) << p->id();
  }
}

TEST(CatalogueTest, EveryEntryNamesARegisteredProperty) {
  for (const auto& [id, prose] : BuiltinCatalogue().entries) {
    EXPECT_NE(PropertyRegistry::Global().Find(id), nullptr)
        << id << " has an entry in a catalogue.json, but no property has that ID";
  }
}

TEST(CatalogueTest, ReportsWhatIsWrongNamingTheFileAndTheId) {
  const CatalogueFile files[] = {
      {"a/catalogue.json",
       R"({"X-ONE": {"summary": "s1", "reference": "r1"},
           "X-TWICE": {"summary": "s", "reference": "r"},
           "X-TWICE": {"summary": "s", "reference": "r"},
           "X-NO-REFERENCE": {"summary": "s"},
           "X-TYPO": {"summary": "s", "refrence": "r"}})"},
      {"b/catalogue.json", R"({"X-ONE": {"summary": "s2", "reference": "r2"}})"},
      {"c/catalogue.json", R"(["X-LIST"])"},
      {"d/catalogue.json", R"({"X-CUT": )"},
  };
  const Catalogue c = ReadCatalogues(files);
  EXPECT_THAT(
      c.problems,
      ElementsAre(
          "a/catalogue.json: X-TWICE twice",
          R"(a/catalogue.json: X-NO-REFERENCE is not {"summary": "...", "reference": "..."})",
          R"(a/catalogue.json: X-TYPO is not {"summary": "...", "reference": "..."})",
          "b/catalogue.json: X-ONE is in another catalogue too",
          "c/catalogue.json: not a JSON object of entries",
          "d/catalogue.json: not a JSON object of entries"));
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries.at("X-ONE").summary, "s1");
  EXPECT_EQ(c.entries.at("X-TWICE").reference, "r");
}

// A property of a test keeps the prose it is given; one made as a
// registration makes a built-in property, with an ID that has no entry,
// shows none.
class AdHocProperty : public NamedProperty {
 public:
  using NamedProperty::NamedProperty;
  Verdict Run(const Transport&, const Scenario&, const CaseEnv&) const override {
    return Verdict::Pass();
  }
};

TEST(CatalogueTest, AnAdHocPropertyKeepsItsOwnProse) {
  const AdHocProperty own("T-OWN", "a summary", "a reference");
  EXPECT_EQ(own.summary(), "a summary");
  EXPECT_EQ(own.reference(), "a reference");
  const auto none = internal::PropertyRegistrar::Make<AdHocProperty>("T-NOT-CATALOGUED");
  EXPECT_EQ(none->id(), "T-NOT-CATALOGUED");
  EXPECT_EQ(none->summary(), "");
  EXPECT_EQ(none->reference(), "");
}

}  // namespace
}  // namespace ipcspec::props
