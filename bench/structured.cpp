// bench/structured.cpp — structured-output costs on one core: grammar compile time (the
// token table, the automaton, the per-class masks), the fill_bitmask time of a fresh grammar's
// first steps (what the engine thread pays for the masks a compile left to first use) and,
// for a batch of sequences walking a grammar at random (allowed tokens only), the time of
// fill_bitmask and accept_token per sequence per step. Default grammar: a tool call of a
// realistic function schema.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "structured/compiled_grammar.h"
#include "structured/json_schema.h"
#include "structured/matcher.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace rotor::structured;
using Clock = std::chrono::steady_clock;

const char* kToolSchema = R"({
  "type": "object",
  "properties": {
    "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 16},
    "include": {"type": "array", "items": {"type": "string", "enum": ["wind", "rain", "uv", "humidity"]}},
    "start_date": {"type": "string", "format": "date"},
    "coordinates": {"type": "object", "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                                                      "lon": {"type": "number", "minimum": -180, "maximum": 180}},
                    "required": ["lat", "lon"], "additionalProperties": false},
    "note": {"type": ["string", "null"], "maxLength": 200}
  },
  "required": ["location", "unit", "days"],
  "additionalProperties": false
})";

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// A token the mask `row` allows, a short one (<= 2 bytes) half of the time so strings close and
// lists end; -1 if none is allowed.
int32_t pick_token(const uint32_t* row, const TokenTable& table, std::mt19937& rng) {
  std::vector<int32_t> ids, short_ids;
  for (int32_t id = 0; id < table.vocab_size(); ++id)
    if ((row[id >> 5] >> (id & 31)) & 1u) {
      ids.push_back(id);
      if (table.bytes_of(id).size() <= 2) short_ids.push_back(id);
    }
  if (ids.empty()) return -1;
  const auto& from = !short_ids.empty() && rng() % 2 ? short_ids : ids;
  return from[rng() % from.size()];
}

// One fresh matcher's first `steps` fill_bitmask calls on `g` (walking at random): their times.
std::vector<double> first_steps_us(const std::shared_ptr<const CompiledGrammar>& g, int steps) {
  std::mt19937 rng(99);
  GrammarMatcher m(g);
  std::vector<uint32_t> bits(static_cast<size_t>(g->tokens().words()));
  std::vector<double> out;
  for (int s = 0; s < steps && !m.is_terminated(); ++s) {
    const auto f0 = Clock::now();
    m.fill_bitmask(bits);
    out.push_back(us(Clock::now() - f0));
    const int32_t pick = pick_token(bits.data(), g->tokens(), rng);
    if (pick < 0 || !m.accept_token(pick)) break;
  }
  return out;
}

struct Figures {
  double served_ms = 0, all_ms = 0, first_us = 0;
};

// One schema's compile as the server does it (GrammarCache::compile_spec; `masks_ms` its
// budget for masks), a fresh matcher's first steps on it, and (all_masks) the compile with
// every class's masks; the grammar the walks use.
std::shared_ptr<const CompiledGrammar> compile_schema(const std::string& schema, const std::string& name,
                                                      const std::shared_ptr<const TokenTable>& table, int first_steps,
                                                      double masks_ms, bool all_masks, Figures& fig) {
  auto t0 = Clock::now();
  const Grammar g = tool_calls_grammar({{"get_weather", schema}}, false);
  const double convert_ms = us(Clock::now() - t0) / 1e3;
  t0 = Clock::now();
  const auto served = CompiledGrammar::compile(g, table, masks_ms);
  fig.served_ms = convert_ms + us(Clock::now() - t0) / 1e3;
  const CompileStats sst = served->stats();
  std::printf("%s: compile as served (tool call, schema %zu bytes): convert %.2f ms, automaton %.2f ms (%zu states, "
              "%zu classes), masks %.2f ms (%zu classes), total %.2f ms\n",
              name.c_str(), schema.size(), convert_ms, sst.automaton_ms, sst.states, sst.classes, sst.masks_ms,
              sst.classes_computed, fig.served_ms);
  const std::vector<double> first = first_steps_us(served, first_steps);
  for (double x : first) fig.first_us += x;
  std::printf("%s: first %zu steps of a fresh matcher: fill_bitmask total %.1f us, first step %.1f us, max %.1f us, "
              "%zu classes computed by them\n",
              name.c_str(), first.size(), fig.first_us, first.empty() ? 0 : first[0], pct(first, 1.0),
              served->stats().classes_computed - sst.classes_computed);
  if (!all_masks) return served;
  t0 = Clock::now();
  const auto all = CompiledGrammar::compile(g, table, CompiledGrammar::kAllMasks);
  fig.all_ms = convert_ms + us(Clock::now() - t0) / 1e3;
  const CompileStats st = all->stats();
  std::printf("%s: compile with every class's masks: automaton %.2f ms, masks %.2f ms (%zu classes, %zu "
              "context-dependent tokens), total %.2f ms\n",
              name.c_str(), st.automaton_ms, st.masks_ms, st.classes, st.uncertain_tokens, fig.all_ms);
  return all;
}

// Batches of matchers walking `cg` at random: fill_bitmask and accept_token times.
void walk(const std::shared_ptr<const CompiledGrammar>& cg, const std::vector<int>& batches, int steps) {
  const TokenTable* table = &cg->tokens();
  const size_t words = static_cast<size_t>(table->words());
  for (int batch : batches) {
    std::mt19937 rng(1234);
    std::vector<std::unique_ptr<GrammarMatcher>> ms;
    for (int b = 0; b < batch; ++b) ms.push_back(std::make_unique<GrammarMatcher>(cg));
    std::vector<uint32_t> bits(words * static_cast<size_t>(batch));
    std::vector<double> fill_us, accept_us, step_us;
    for (int s = 0; s < steps; ++s) {
      const auto s0 = Clock::now();
      for (int b = 0; b < batch; ++b) {
        const auto f0 = Clock::now();
        ms[static_cast<size_t>(b)]->fill_bitmask(std::span<uint32_t>(bits.data() + words * static_cast<size_t>(b), words));
        fill_us.push_back(us(Clock::now() - f0));
      }
      step_us.push_back(us(Clock::now() - s0));
      for (int b = 0; b < batch; ++b) {
        std::unique_ptr<GrammarMatcher>& m = ms[static_cast<size_t>(b)];
        const int32_t pick = m->is_terminated() ? -1 : pick_token(bits.data() + words * static_cast<size_t>(b), *table, rng);
        if (pick < 0) {
          m = std::make_unique<GrammarMatcher>(cg);  // finished: start over
          continue;
        }
        const auto a0 = Clock::now();
        m->accept_token(pick);
        accept_us.push_back(us(Clock::now() - a0));
      }
    }
    double mean = 0;
    for (double x : fill_us) mean += x;
    mean /= static_cast<double>(fill_us.size());
    std::printf("batch %d, %d steps: fill_bitmask per sequence per step mean %.1f us, p50 %.1f, p99 %.1f, max %.1f; "
                "accept_token p50 %.1f us; whole batch per step p50 %.1f us\n",
                batch, steps, mean, pct(fill_us, 0.5), pct(fill_us, 0.99), pct(fill_us, 1.0), pct(accept_us, 0.5),
                pct(step_us, 0.5));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("structured-output mask and compile benchmark");
  std::vector<int> batches{1, 32};
  int steps = 200, first_steps = 16;
  bool all_masks = true;
  double masks_ms = CompiledGrammar::kServedMasksMs;
  std::vector<std::string> schema_files;
  app.add_option("--batch", batches, "sequences walking together");
  app.add_option("--steps", steps, "steps per walk (0: no walks)");
  app.add_option("--first-steps", first_steps, "steps of a fresh matcher timed after the compile as served");
  app.add_option("--masks-ms", masks_ms, "the served compile's budget for masks (default: the server's; 0: none)");
  app.add_flag("--all-masks,!--no-all-masks", all_masks, "also compile with every class's masks (the walks use it)");
  app.add_option("--schema", schema_files, "JSON schema files, each benchmarked (default: a weather tool's parameters)");
  CLI11_PARSE(app, argc, argv);
  std::vector<std::pair<std::string, std::string>> schemas;
  for (const std::string& file : schema_files) {
    std::ifstream f(file);
    std::stringstream ss;
    ss << f.rdbuf();
    schemas.emplace_back(file, ss.str());
  }
  if (schemas.empty()) schemas.emplace_back("weather tool", kToolSchema);
  auto t0 = Clock::now();
  const auto tok = rotor::Tokenizer::embedded_qwen3();
  const auto table = TokenTable::from_tokenizer(*tok, 151936, {151643, 151645});
  std::printf("token table: %zu matchable tokens, %.1f ms (once per server)\n", table->size(), us(Clock::now() - t0) / 1e3);
  std::vector<double> served_ms, all_ms, first_us;
  for (const auto& [name, schema] : schemas) {
    Figures fig;
    const auto cg = compile_schema(schema, name, table, first_steps, masks_ms, all_masks, fig);
    served_ms.push_back(fig.served_ms);
    all_ms.push_back(fig.all_ms);
    first_us.push_back(fig.first_us);
    if (steps > 0) walk(cg, batches, steps);
  }
  if (schemas.size() > 1)
    std::printf("%zu schemas: compile as served p50 %.1f ms, p90 %.1f, max %.1f; with every class's masks p50 %.1f ms, "
                "p90 %.1f, max %.1f; a fresh matcher's first %d steps p50 %.1f us, p90 %.1f, max %.1f\n",
                schemas.size(), pct(served_ms, 0.5), pct(served_ms, 0.9), pct(served_ms, 1.0), pct(all_ms, 0.5),
                pct(all_ms, 0.9), pct(all_ms, 1.0), first_steps, pct(first_us, 0.5), pct(first_us, 0.9),
                pct(first_us, 1.0));
  return 0;
}
