// apps/vllm_flags.h — the rest of `vllm serve`'s command line: flags rotor does not implement,
// each registered so that a copied script fails with one line naming the flag and saying what
// rotor does instead (not CLI11's "not expected"); vLLM's multi-letter short aliases (-tp, -dp,
// -pp, -cc, ...), which CLI11 cannot name, rewritten to their long forms before parsing; and
// vLLM's human-readable integers ("32k" = 32000, "32K" = 32768).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rotor::app {

// Registers every vLLM flag rotor rejects on `cmd`; each one given appends
// "--flag: what rotor does instead" to `given`.
void add_rejected_vllm_flags(CLI::App& cmd, std::vector<std::string>& given);

// argv with vLLM's multi-letter short aliases ("-tp 8", "-tp=8") written as long flags.
std::vector<std::string> expand_vllm_aliases(std::vector<std::string> argv);

// vLLM's human_readable_int: digits, or a number with k/m/g/t (x1000^n, decimals allowed) or
// K/M/G/T (x1024^n, integers only). rotor::Error naming `flag` otherwise.
int64_t parse_human_int(const std::string& flag, const std::string& text);

}  // namespace rotor::app
