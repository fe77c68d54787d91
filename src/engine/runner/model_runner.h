// engine/runner/model_runner.h — ModelRunner: one tensor-parallel rank's step. It turns a
// step's work list into batch metadata on the device (InputBatch), runs the model (make_model:
// the architecture of the config) through its paged KV cache (KvCache) and samples (Sampler);
// it knows nothing of requests or scheduling. A step is prepare() (host arrays only, any
// thread), launch() (device work queued, no wait) and wait() (the sampled ids back). A token
// not known at prepare() time — the one the previous step is still sampling — is a
// kPlaceholderToken: set on the host (StepInputs::set_token) or, without waiting, filled on the
// device from the previous launched step's sampled ids (StepInputs::set_previous_row). On a GPU
// the metadata goes up from page-locked staging (two slots, so step N+1 is staged while step N
// runs) in asynchronous copies, decode steps can replay CUDA graphs captured at start-up, and a
// step waits for the device only to read its sampled ids back. A step with grammar bitmasks
// (structured outputs) is launched in two calls, its forward first and its sampling once the
// host has written the masks, so the host writes them while the device runs the forward.
#pragma once
#include <array>
#include <atomic>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "engine/runner/cuda_graph.h"
#include "engine/runner/input_batch.h"
#include "engine/runner/kv_cache.h"
#include "engine/runner/sampler.h"
#include "engine/runner/step_inputs.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace rotor {

class ModelRunner {
 public:
  // A runner with its KV cache: options.num_blocks blocks, or what fits gpu_memory_utilization.
  ModelRunner(Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights, RunnerOptions options);
  // Without its KV cache yet, for ranks that first agree on its size: kv_blocks_fit(), then
  // allocate_kv_cache(), then warm_up_graphs() and capture_graphs().
  struct Unsized {};
  ModelRunner(Unsized, Ops& ops, Communicator& comm, const ModelConfig& config, ModelWeights weights,
              RunnerOptions options);
  ~ModelRunner();

  // The KV blocks this rank can hold: options.num_blocks, or what fits gpu_memory_utilization
  // (its share of it when `sharers` ranks place their caches on this GPU).
  int kv_blocks_fit(int sharers = 1);
  void allocate_kv_cache(int num_blocks);
  // Instead of allocate_kv_cache: `owner`'s cache (a runner on another lane of this GPU, which
  // must outlive this one). The prefill lane's runner writes its chunks into the decode
  // lane's cache; the scheduler keeps the two lanes on different blocks.
  void share_kv_cache(const ModelRunner& owner);
  // With options.cuda_graphs: the graph batch sizes and one eager decode step at the largest
  // (every rank of a group at once: it runs the collectives), then, once every rank is done
  // with it, the decode graphs captured (nothing runs on the device meanwhile).
  void warm_up_graphs();
  void capture_graphs();
  // Waits for everything queued on this rank's device stream.
  void synchronize() { ops_.synchronize(); }
  // Aborts this rank's communicator group (Communicator::abort): after a failure on one rank.
  void abort_group(const std::string& reason) { comm_.abort(reason); }

  // The options in force (num_blocks as sized; graph_batch_sizes as captured).
  const RunnerOptions& options() const { return opt_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  // The KV cache, one K/V pair per layer (benchmarks fill it to fake long contexts).
  std::span<const LayerKVCache> kv_cache() const { return kv_.layers(); }
  // Whether decode attention runs by a split plan per step (RunnerOptions::decode_splits).
  bool plans_decode_splits() const { return plan_splits_; }
  // Bytes of KV cache one block takes over all layers (K and V) on one rank.
  static size_t kv_block_bytes(const ModelConfig& config, const ShardSpec& shard, int block_size, DType kv_dtype);

  // Host-side preparation: checks the work and flattens it. Touches no device state.
  StepInputs prepare(std::span<const SeqWork> work) const { return prepare_step(work, opt_, config_.vocab_size); }
  // Queues a prepared step on the device (every placeholder set or given a previous row)
  // without waiting for earlier steps. At most two launched steps may await wait(); launch
  // and wait may run on different threads (one launching, one waiting, each in step order).
  // When `in` has grammar bitmask rows, launch queues the forward and the sample rows' logits
  // only (the result's awaits_bitmasks is set) and launch_sampling completes the step.
  LaunchedStep launch(const StepInputs& in);
  // Grows the buffers the next launch of `in` will use, so that the launch allocates nothing.
  // Growing waits for this rank's queued work and allocates, which orders the whole GPU: ranks
  // that share a GPU must each call this before any of them launches the step (ModelStepRunner
  // does), or one rank's allocation would wait on a peer's collective that waits for this
  // rank's forward. Without it, launch grows what it must (one rank, or one GPU a rank).
  void reserve(const StepInputs& in);
  // How many buffers reserve() has grown since start-up (none with options().reserve_sampling
  // for steps within its limits).
  int64_t buffer_growths() const { return sampler_->growths(); }
  // The rest of a step that awaits its bitmasks: bitmasks [in.bitmask_rows.size(), ceil(V / 32)]
  // u32 (copied before it returns) are applied to those rows, then penalties, masks, the draw,
  // log-probs and the copies down are queued. On the launching thread, before the next launch;
  // `in` is the step's own.
  void launch_sampling(LaunchedStep& step, const StepInputs& in, std::span<const uint32_t> bitmasks);
  // Waits for a launched step's sampled ids; results in the order of the work. Throws when a
  // collective of the step failed on the device (Communicator::check).
  std::vector<SeqResult> wait(LaunchedStep& step);
  // The sampled ids (by sample row) of the step launched before the one that awaits its
  // bitmasks, waited for: what a placeholder of that step stands for, for the bitmasks'
  // writer. On the launching thread, or any thread while the launching one waits (that step's
  // forward is queued behind it by then, so the device stays busy while the host waits).
  const int32_t* previous_sampled();
  // launch + wait.
  std::vector<SeqResult> run(const StepInputs& in) {
    LaunchedStep s = launch(in);
    return wait(s);
  }
  // prepare + run.
  std::vector<SeqResult> execute(std::span<const SeqWork> work) { return run(prepare(work)); }

 private:
  // One staging slot's state for a step in flight.
  struct Slot {
    std::unique_ptr<DeviceEvent> done;     // recorded after the step's copies down
    std::atomic<bool> busy{false};         // launched and not yet waited for
  };
  // Forward and sampling of R padded decode rows, queued on the device (the graphs' step).
  void device_step(const AttentionBatch& b, int R);
  // A launched step's sampling (its first logits already queued), then its copies down and
  // event (see Sampler::sample).
  void queue_sampling(LaunchedStep& step, const StepInputs& in, std::span<const uint32_t> bitmasks);
  // The copies down of a launched step and its event; it becomes the previous step.
  void finish_launch(LaunchedStep& step, const StepInputs* in);
  // The view of a decode graph's batch of B padded rows.
  AttentionBatch graph_batch(int B) const;
  // With decode split plans: the plan of the slot's decode rows [0, S) (the first num_real
  // real), for a launch sized by max_len, staged and uploaded; its items (0 without plans).
  int plan_decodes(int slot, int S, int num_real, int max_len) const;

  Ops& ops_;
  Communicator& comm_;
  ModelConfig config_;
  ModelWeights weights_;
  RunnerOptions opt_;
  std::unique_ptr<Model> model_;
  KvCache kv_;
  int max_blocks_per_seq_ = 0, max_rows_ = 0;
  DecodeSplitParams split_params_;       // the backend's (min_chunk: the options')
  bool plan_splits_ = false;             // decode attention by a split plan per step
  std::unique_ptr<InputBatch> batch_;
  std::unique_ptr<Sampler> sampler_;
  OwnedTensor hidden_;
  std::array<Slot, kStagingSlots> slots_;
  int next_slot_ = 0;                    // launching thread
  int prev_num_sample_ = 0;              // sample rows of the last launched step (launching thread)
  int prev_slot_ = -1;                   // its staging slot (launching thread)
  int awaiting_slot_ = -1;               // the launched step awaiting its bitmasks, if any (launching thread)
  bool warmed_up_ = false;
  bool scales_pending_ = false;          // --calculate-kv-scales: no step has computed them yet
  std::vector<std::pair<int, std::unique_ptr<CudaGraph>>> graphs_;  // (batch size, graph), ascending
};

}  // namespace rotor
