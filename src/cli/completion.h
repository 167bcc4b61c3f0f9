#pragma once

// Bash completion generated from the command tree itself, so it can never
// fall behind the commands: `source <(sluice completion bash)`.

#include <string>

namespace CLI {
class App;
}

namespace sluice::cli {

// A bash script completing subcommands and the options of each command path
// of `root` (whose name is the program name).
std::string bash_completion_script(const CLI::App& root);

}  // namespace sluice::cli
