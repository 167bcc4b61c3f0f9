#include "cli/completion.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

namespace sluice::cli {
namespace {

TEST(Completion, ListsSubcommandsAndOptionsPerPath) {
  CLI::App app{"test", "sluice"};
  std::string brokers;
  app.add_option("-b,--brokers", brokers);
  app.fallthrough(true);
  auto* topic = app.add_subcommand("topic");
  auto* create = topic->add_subcommand("create");
  int partitions = 1;
  create->add_option("-p,--partitions", partitions);
  topic->add_subcommand("list");
  app.fallthrough(false);
  std::string script = bash_completion_script(app);
  EXPECT_NE(script.find("    \"\") echo \"topic\" ;;"), std::string::npos) << script;
  EXPECT_NE(script.find("    \"topic\") echo \"create list\" ;;"), std::string::npos);
  // A command's options include the global ones that fall through to it.
  EXPECT_NE(script.find("    \"topic create\") echo \"--help -h --partitions -p --brokers -b\" ;;"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("complete -o default -F _sluice sluice"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cli
