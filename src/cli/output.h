#pragma once

// What a command prints. A command builds one JSON document (field order
// kept) and the user picks how to see it: tables and "key: value" lines for
// people, or the document itself for programs. Both come from the same
// document, so they always carry the same numbers.

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::cli {

using document = nlohmann::ordered_json;

enum class output_format { table, json };

// Renders `doc` for people:
// - an array of flat objects is a table, one column per key (headers are the
//   keys in capitals, '_' as '-'); arrays of scalars in a cell are joined
//   with ','; null is "-";
// - an object prints its scalar fields as aligned "key: value" lines, then
//   each array or object field as a titled section;
// - an object with a single array field prints just that array, untitled;
// - an empty array prints "(none)".
std::string render_human(const document& doc);

// One line of compact JSON (invalid UTF-8 in strings replaced by U+FFFD).
std::string render_json(const document& doc);

// Prints `doc` to `out` in `format`, ending with a newline.
void print(const document& doc, output_format format, std::FILE* out = stdout);

}  // namespace sluice::cli
