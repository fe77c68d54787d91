// comm/thread_comm.cpp — host-side collectives of CPU ranks in one process. A collective is
// two meetings in the group: the first hands every rank the others' tensors (a Call each);
// between them each rank reduces or copies its own slice straight into every rank's memory
// (slices are disjoint, so there are no races); the second keeps every tensor in use until
// all ranks are done with it.
#include "comm/thread_comm.h"

#include <cstring>
#include <type_traits>

#include "core/bf16.h"
#include "core/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/op_contract.h"

namespace rotor {
namespace {

enum class Op : int32_t { AllReduce, AllGather, Broadcast, AllReduceNorm };

const char* op_name(Op op) {
  switch (op) {
    case Op::AllReduce: return "all_reduce_sum";
    case Op::AllGather: return "all_gather";
    case Op::Broadcast: return "broadcast";
    case Op::AllReduceNorm: return "all_reduce_rms_norm";
  }
  return "?";
}

// What one rank hands in: the collective and its tensors (a: the reduced or sent tensor,
// b: the output, c: the residual).
struct Call {
  Op op;
  int32_t root;
  Tensor a, b, c;
};
static_assert(std::is_trivially_copyable_v<Call>);

bool float_dtype(DType d) { return d == DType::F32 || d == DType::BF16 || d == DType::F16; }

// dst[i] (for every rank's dst) = sum over ranks of src_r[i], i in [lo, hi), in rank order.
template <typename T>
void sum_into_all(const std::vector<void*>& bufs, int64_t lo, int64_t hi) {
  const size_t n = bufs.size();
  for (int64_t i = lo; i < hi; ++i) {
    float s;
    if constexpr (std::is_same_v<T, float>) {
      s = static_cast<const float*>(bufs[0])[i];
      for (size_t r = 1; r < n; ++r) s += static_cast<const float*>(bufs[r])[i];
      for (size_t r = 0; r < n; ++r) static_cast<float*>(bufs[r])[i] = s;
    } else {  // bf16
      s = bf16_to_f32(static_cast<const uint16_t*>(bufs[0])[i]);
      for (size_t r = 1; r < n; ++r) s += bf16_to_f32(static_cast<const uint16_t*>(bufs[r])[i]);
      const uint16_t v = f32_to_bf16(s);
      for (size_t r = 0; r < n; ++r) static_cast<uint16_t*>(bufs[r])[i] = v;
    }
  }
}

void sum_into_all(DType dtype, const std::vector<void*>& bufs, int64_t lo, int64_t hi) {
  if (dtype == DType::F32) return sum_into_all<float>(bufs, lo, hi);
  if (dtype == DType::BF16) return sum_into_all<uint16_t>(bufs, lo, hi);
  for (int64_t i = lo; i < hi; ++i) {  // f16
    float s = cpu::load_f32(bufs[0], dtype, i);
    for (size_t r = 1; r < bufs.size(); ++r) s += cpu::load_f32(bufs[r], dtype, i);
    for (void* b : bufs) cpu::store_f32(b, dtype, i, s);
  }
}

class ThreadComm final : public Communicator {
 public:
  ThreadComm(std::shared_ptr<LocalGroup> group, int rank) : group_(std::move(group)), rank_(rank) {
    ROTOR_CHECK(group_ && rank >= 0 && rank < group_->world_size(), "thread communicator: rank {} of {}", rank,
                group_ ? group_->world_size() : 0);
  }
  int rank() const override { return rank_; }
  int world_size() const override { return group_->world_size(); }
  void abort(const std::string& reason) override { group_->abort(reason); }
  void check() override {
    if (group_->aborted()) ROTOR_FAIL("rank {}: the group was aborted: {}", rank_, group_->abort_reason());
  }

  void all_reduce_sum(const Tensor& t) override {
    check_host(t, "all_reduce_sum");
    ROTOR_CHECK(t.is_contiguous() && float_dtype(t.dtype()), "all_reduce_sum: {} must be contiguous f32, bf16 or f16",
                t.str());
    const std::vector<Call> calls = meet({Op::AllReduce, 0, t, {}, {}});
    std::vector<void*> bufs;
    for (const Call& c : calls) bufs.push_back(c.a.data());
    const int64_t n = t.numel(), per = (n + world_size() - 1) / world_size();
    const int64_t lo = std::min(n, per * rank_), hi = std::min(n, lo + per);
    sum_into_all(t.dtype(), bufs, lo, hi);
    group_->barrier(rank_);
  }

  void all_gather(const Tensor& in, const Tensor& out) override {
    check_host(in, "all_gather");
    check_host(out, "all_gather");
    ROTOR_CHECK(in.is_contiguous() && out.is_contiguous() && in.dtype() == out.dtype() &&
                    out.numel() == in.numel() * world_size(),
                "all_gather: {} from each of {} ranks into {}", in.str(), world_size(), out.str());
    const std::vector<Call> calls = meet({Op::AllGather, 0, in, out, {}});
    const size_t bytes = in.nbytes();
    for (int r = 0; r < world_size(); ++r)
      std::memcpy(static_cast<char*>(out.data()) + r * bytes, calls[r].a.data(), bytes);
    group_->barrier(rank_);
  }

  void broadcast(const Tensor& t, int root) override {
    check_host(t, "broadcast");
    ROTOR_CHECK(root >= 0 && root < world_size(), "broadcast: root {} of {} ranks", root, world_size());
    ROTOR_CHECK(t.is_contiguous(), "broadcast: {} must be contiguous", t.str());
    const std::vector<Call> calls = meet({Op::Broadcast, root, t, {}, {}});
    if (rank_ != root && t.nbytes() > 0) std::memcpy(t.data(), calls[root].a.data(), t.nbytes());
    group_->barrier(rank_);
  }

  // Rows are shared out among the ranks: each sums its rows of x into its own x, normalises
  // them with the CPU op (the same code as the unfused path, so the same bits), and copies
  // the residual and output rows into every rank's tensors.
  bool all_reduce_rms_norm(const AllReduceNorm& a) override {
    check_host(a.x, "all_reduce_rms_norm");
    check_host(a.residual, "all_reduce_rms_norm");
    check_host(a.out, "all_reduce_rms_norm");
    ROTOR_CHECK(a.x.ndim() == 2 && a.x.stride(1) == 1 && float_dtype(a.x.dtype()) && a.residual.shape() == a.x.shape() &&
                    a.residual.stride(1) == 1 && a.out.shape() == a.x.shape() && a.out.stride(1) == 1,
                "all_reduce_rms_norm: x {}, residual {}, out {} must be [T, H] rows", a.x.str(), a.residual.str(),
                a.out.str());
    // The CPU norm runs below on this rank's rows; its contract is the op's.
    if (a.quant)
      contract::check_rms_norm_quant(Device{}, a.x, a.weight, a.bias, a.quant->scale, a.quant->offset, a.out,
                                     a.residual);
    else
      contract::check_rms_norm(Device{}, a.x, a.weight, a.bias, a.out, a.residual);
    const std::vector<Call> calls = meet({Op::AllReduceNorm, 0, a.x, a.out, a.residual});
    const int64_t T = a.x.size(0), H = a.x.size(1), N = world_size();
    const int64_t lo = T * rank_ / N, hi = T * (rank_ + 1) / N;
    if (hi > lo) {
      std::vector<float> acc(H);
      for (int64_t t = lo; t < hi; ++t) {  // this rank's row t of x = sum over ranks, in rank order
        cpu::row_to_f32(calls[0].a.row_ptr(t), a.x.dtype(), H, acc.data());
        for (int64_t r = 1; r < N; ++r)
          for (int64_t h = 0; h < H; ++h) acc[h] += cpu::load_f32(calls[r].a.row_ptr(t), a.x.dtype(), h);
        for (int64_t h = 0; h < H; ++h) cpu::store_f32(a.x.row_ptr(t), a.x.dtype(), h, acc[h]);
      }
      const Tensor x = a.x.rows(lo, hi), out = a.out.rows(lo, hi), res = a.residual.rows(lo, hi);
      if (a.quant) cpu::rms_norm_quant(x, a.weight, a.bias, a.eps, a.quant->scale, a.quant->offset, out, res);
      else cpu::rms_norm(x, a.weight, a.bias, a.eps, out, res);
      const size_t out_bytes = H * dtype_size(a.out.dtype()), res_bytes = H * dtype_size(a.residual.dtype());
      for (int64_t r = 0; r < N; ++r) {
        if (r == rank_) continue;
        for (int64_t t = lo; t < hi; ++t) {
          std::memcpy(calls[r].b.row_ptr(t), a.out.row_ptr(t), out_bytes);
          std::memcpy(calls[r].c.row_ptr(t), a.residual.row_ptr(t), res_bytes);
        }
      }
    }
    group_->barrier(rank_);
    return true;
  }

 private:
  void check_host(const Tensor& t, const char* what) const {
    ROTOR_CHECK(t.device().is_cpu(), "{}: the thread communicator takes host tensors, not {}", what, t.str());
  }

  // The first meeting: hands in this rank's call, returns everyone's, and checks that all
  // ranks called the same collective with the same shapes (every rank sees every call, so
  // all of them fail alike).
  std::vector<Call> meet(const Call& mine) {
    std::vector<Call> calls = group_->exchange_value(rank_, mine);
    for (int r = 0; r < world_size(); ++r) {
      const Call& c = calls[r];
      const bool same = c.op == mine.op && c.root == mine.root && c.a.dtype() == mine.a.dtype() &&
                        c.a.shape() == mine.a.shape() && c.b.shape() == mine.b.shape() &&
                        c.b.dtype() == mine.b.dtype();
      if (!same) {
        const Call& first = calls[0];
        ROTOR_FAIL("collectives do not match: rank 0 called {}({}), rank {} called {}({})", op_name(first.op),
                   first.a.str(), r, op_name(c.op), c.a.str());
      }
    }
    return calls;
  }

  std::shared_ptr<LocalGroup> group_;
  const int rank_;
};

}  // namespace

std::unique_ptr<Communicator> make_thread_comm(std::shared_ptr<LocalGroup> group, int rank) {
  return std::make_unique<ThreadComm>(std::move(group), rank);
}

std::vector<std::unique_ptr<Communicator>> make_thread_comms(int world_size) {
  auto group = std::make_shared<LocalGroup>(world_size);
  std::vector<std::unique_ptr<Communicator>> comms;
  for (int r = 0; r < world_size; ++r) comms.push_back(make_thread_comm(group, r));
  return comms;
}

}  // namespace rotor
