// apps/rotor.cpp — the rotor executable: parses the command line and runs a subcommand.
// Errors reach the user as one line on stderr and exit status 1.
#include <algorithm>
#include <cstdio>

#include "apps/commands.h"
#include "apps/vllm_flags.h"
#include "comm/placement.h"
#include "core/check.h"
#include "core/log.h"

int main(int argc, char** argv) {
  rotor::load_kernels_eagerly_for_shared_gpus();  // before anything starts CUDA
  CLI::App app{"rotor: LLM inference server for the Qwen3-MoE family"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.parse_complete_callback([&] { rotor::set_log_level(log_level); });
  rotor::app::add_generate(app);
  rotor::app::add_bench(app);
  rotor::app::add_serve(app);
  rotor::app::add_quantize(app);
  rotor::app::add_tokenize(app);
  rotor::app::add_chat_template(app);
  try {
    // vLLM's multi-letter aliases (-tp 8) become long flags CLI11 knows; CLI11 takes the
    // arguments reversed.
    std::vector<std::string> args = rotor::app::expand_vllm_aliases({argv + 1, argv + argc});
    std::reverse(args.begin(), args.end());
    app.name(argv[0]);
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rotor::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    ROTOR_LOG_DEBUG("raised at {}:{}", e.where().file_name(), e.where().line());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
