// apps/commands.h — the subcommands of the rotor executable; each file adds one to the CLI.
#pragma once
#include <CLI/CLI.hpp>

namespace rotor::app {

void add_generate(CLI::App& app);
void add_bench(CLI::App& app);
void add_serve(CLI::App& app);
void add_quantize(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_chat_template(CLI::App& app);

}  // namespace rotor::app
