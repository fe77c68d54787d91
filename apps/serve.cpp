// apps/serve.cpp — `rotor serve [MODEL_DIR]`: vLLM's command line; resolves the flags
// (apps/serve_args.h) and, with --dry-run, prints the resolved configuration as JSON.
#include <cstdio>

#include "apps/commands.h"
#include "apps/serve_args.h"
#include "core/check.h"
#include "core/log.h"

namespace rotor::app {
namespace {

void run(const ServeArgs& args) {
  const ServeConfig config = resolve_serve_config(args);
  if (args.dry_run) {
    std::printf("%s\n", config.to_json().dump(2).c_str());
    return;
  }
  for (const std::string& w : config.warnings) ROTOR_LOG_WARN("{}", w);
  if (!config.unsupported.empty()) {
    std::string all;
    for (const std::string& u : config.unsupported) all += (all.empty() ? "" : "; ") + u;
    ROTOR_FAIL("cannot serve this configuration yet: {}", all);
  }
  ROTOR_FAIL("rotor serve: the HTTP server is not merged yet (issue 5 waits for the engine, issue 4, and the "
             "tokenizer, issue 3); --dry-run shows the resolved configuration");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI API (vLLM's flags)");
  add_serve_flags(*cmd, *args);
  cmd->callback([args] { run(*args); });
}

}  // namespace rotor::app
