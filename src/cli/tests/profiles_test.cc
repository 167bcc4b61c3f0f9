#include "cli/profiles.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

constexpr const char* sample =
    "# profiles\n"
    "default = local\n"
    "\n"
    "[local]\n"
    "brokers = 127.0.0.1:9092\n"
    "[prod]   \n"
    "brokers = k1:9092, k2:9092   # two brokers\n"
    "client.id = ops\n"
    "security.protocol = ssl\n";

environment env_with(std::map<std::string, std::string> variables) {
  environment env;
  env.variables = std::move(variables);
  return env;
}

TEST(Profiles, ParsesSectionsDefaultAndProperties) {
  auto file = parse_profiles(sample, "p");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->default_profile, "local");
  ASSERT_EQ(file->profiles.size(), 2u);
  const profile* prod = file->find("prod");
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->brokers, "k1:9092, k2:9092");
  ASSERT_EQ(prod->properties.size(), 2u);
  EXPECT_EQ(prod->properties[0], std::make_pair(std::string("client.id"), std::string("ops")));
}

TEST(Profiles, ErrorsNameTheLine) {
  auto missing_bracket = parse_profiles("[local\n", "f");
  ASSERT_FALSE(missing_bracket);
  EXPECT_EQ(missing_bracket.error().message, "f:1: expected [profile-name]");
  auto stray = parse_profiles("brokers = x\n", "f");
  ASSERT_FALSE(stray);
  EXPECT_NE(stray.error().message.find("f:1:"), std::string::npos);
  auto no_equals = parse_profiles("[a]\nbrokers\n", "f");
  ASSERT_FALSE(no_equals);
  EXPECT_EQ(no_equals.error().message, "f:2: expected key = value");
  EXPECT_FALSE(parse_profiles("default = nope\n[a]\n", "f"));
  EXPECT_FALSE(parse_profiles("[a]\n[a]\n", "f"));
}

TEST(Profiles, BrokersPrecedence) {
  auto file = *parse_profiles(sample, "p");
  global_options g;
  // Nothing chosen: the file's default profile.
  EXPECT_EQ(resolve_connection(g, env_with({}), file)->bootstrap, "127.0.0.1:9092");
  // The environment beats the default profile...
  EXPECT_EQ(resolve_connection(g, env_with({{"SLUICE_BROKERS", "e:1"}}), file)->bootstrap, "e:1");
  // ...but not an explicit --profile...
  g.profile = "prod";
  EXPECT_EQ(resolve_connection(g, env_with({{"SLUICE_BROKERS", "e:1"}}), file)->bootstrap,
            "k1:9092, k2:9092");
  // ...and --brokers beats everything, keeping the profile's properties.
  g.brokers = "flag:2";
  auto settings = resolve_connection(g, env_with({{"SLUICE_BROKERS", "e:1"}}), file);
  EXPECT_EQ(settings->bootstrap, "flag:2");
  EXPECT_EQ(settings->properties.size(), 2u);
}

TEST(Profiles, SluiceProfileVariablePicksAProfileBelowSluiceBrokers) {
  auto file = *parse_profiles(sample, "p");
  global_options g;
  EXPECT_EQ(resolve_connection(g, env_with({{"SLUICE_PROFILE", "prod"}}), file)->bootstrap,
            "k1:9092, k2:9092");
  EXPECT_EQ(
      resolve_connection(g, env_with({{"SLUICE_PROFILE", "prod"}, {"SLUICE_BROKERS", "e:1"}}), file)
          ->bootstrap,
      "e:1");
}

TEST(Profiles, UnknownProfileAndBadPropertyAreErrors) {
  auto file = *parse_profiles(sample, "p");
  global_options g;
  g.profile = "nope";
  auto unknown = resolve_connection(g, env_with({}), file);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown profile \"nope\""), std::string::npos);
  g.profile.clear();
  g.client_properties = {"linger.ms"};
  EXPECT_FALSE(resolve_connection(g, env_with({}), file));
  g.client_properties = {"linger.ms=5"};
  auto ok = resolve_connection(g, env_with({}), file);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->properties.back(), std::make_pair(std::string("linger.ms"), std::string("5")));
}

TEST(Profiles, NoFileMeansTheBuiltInDefault) {
  global_options g;
  auto settings = resolve_connection(g, env_with({}), profile_file{});
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->bootstrap, "127.0.0.1:9092");
}

TEST(Profiles, PathFollowsTheEnvironment) {
  EXPECT_EQ(profiles_path(env_with({{"HOME", "/h"}})), "/h/.config/sluice/profiles");
  EXPECT_EQ(profiles_path(env_with({{"HOME", "/h"}, {"XDG_CONFIG_HOME", "/x"}})),
            "/x/sluice/profiles");
  EXPECT_EQ(profiles_path(env_with({{"SLUICE_PROFILES", "/p"}, {"HOME", "/h"}})), "/p");
}

}  // namespace
}  // namespace sluice::cli
