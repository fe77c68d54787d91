// loadgen/load_generator.h — sends a list of prepared requests to the server: at most
// max_concurrency in flight (one connection and thread each), arrivals as a Poisson process
// at request_rate (all at once when infinite), as vllm bench serve and evalscope perf do.
#pragma once
#include <atomic>
#include <limits>
#include <string>
#include <vector>

#include "loadgen/http_client.h"
#include "loadgen/metrics.h"

namespace rotor::loadgen {

struct Job {
  std::string body;                 // the JSON request body
  int index = 0;                    // position in the dataset
  int expected_prompt_tokens = -1;  // -1: not known
};

struct LoadOptions {
  int max_concurrency = 1;
  double request_rate = std::numeric_limits<double>::infinity();  // requests per second
  uint64_t seed = 0;  // of the arrival times
};

// What is happening now, for the progress line.
struct LiveCounters {
  std::atomic<int> started{0}, finished{0}, failed{0};
  std::atomic<int64_t> chunks{0};  // output chunks received so far
};

// Arrival offsets in seconds for n requests: 0, then exponential gaps of mean 1/rate.
std::vector<double> poisson_arrivals(int n, double rate, uint64_t seed);

// Runs every job and returns one record per job, in job order. Times are seconds since t0.
std::vector<RequestRecord> run_load(const BaseUrl& url, const ClientOptions& client, const std::string& path,
                                    const std::vector<Job>& jobs, const LoadOptions& o, Clock::time_point t0,
                                    LiveCounters& live);

}  // namespace rotor::loadgen
