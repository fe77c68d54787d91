// engine/engine_stats.cpp — histogram buckets (vLLM's, 1-2-5 steps for token counts) and observation.
#include "engine/engine_stats.h"

#include <algorithm>

namespace rotor {

Histogram::Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double v) {
  ++counts[std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin()];
  sum += v;
  ++count;
}

Histogram Histogram::ttft() {
  return Histogram({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                    40.0, 80.0, 160.0, 640.0, 2560.0});
}

Histogram Histogram::inter_token() {
  return Histogram({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                    40.0, 80.0});
}

Histogram Histogram::e2e() {
  return Histogram({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
                    480.0, 960.0, 1920.0, 7680.0});
}

Histogram Histogram::queue() { return e2e(); }

Histogram Histogram::tokens(int max_value) {
  std::vector<double> b;
  for (int64_t scale = 1; scale <= max_value; scale *= 10)
    for (int64_t m : {1, 2, 5})
      if (m * scale <= max_value) b.push_back(static_cast<double>(m * scale));
  return Histogram(std::move(b));
}

Histogram Histogram::iteration_tokens() {
  return Histogram({1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384});
}

}  // namespace rotor
