// Placeholder until this family is implemented.
#include "cli/command_families.h"

namespace sluice::cli {

void add_produce_command(CLI::App&, invocation&) {}

}  // namespace sluice::cli
