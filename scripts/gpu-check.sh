#!/usr/bin/env bash
# The GPU check, run on an H200 machine from a checkout (see docs/gpu.md): makes the test
# fixtures with transformers, builds rotor with CUDA, runs the GPU tests and the benchmarks,
# and prints a short table last. Logs go to $OUT (or ./gpu-out).
#   scripts/gpu-check.sh [steps...]     steps: env fixtures build test comm tp tp-bench engine bench fp8
#                                       ops fp8-rank gateup-stages narrow fused-moe final-bench e4m3-stages split-max w8a8 latency gemv defaults moe-small router merge early-moe early-attn early fused-qk stages kv-steps lanes overlap prefill-lane early-short verify prefetch ncu ncu-attn prefill-ops i8-cols ncu-prefill ncu-source fused-prefill resident-down moe-tests ops-tests w8a8-tests run-sh e2e e2e-tp serve (default: env fixtures build test
#                                       comm tp tp-bench engine bench fp8)
#   ROTOR_SERVE_RUNS="bf16 w8a8+schema fp8kv w8a8+fp8kv" (serve): one server and seed workload
#       per run: bf16, or w8a8 / fp8kv / schema / lane / lane0 joined by "+" (default: bf16);
#       ROTOR_LANE_SMS: the decode lane's SMs with "lane" (default 96); ROTOR_BENCH_OUTPUT_LEN
#       (default 2048), ROTOR_BENCH_NUM_PROMPTS (default 32: the seed's burst)
#   ROTOR_GPU_TARGETS="a b" (build): build only these targets (a short call)
#   ROTOR_E2E_TESTS="tests/e2e/test_x.py ..." (e2e, e2e-tp): only these test files (default: tests/e2e)
#   ROTOR_NCU_RUNS="NAME:LAYERS:QUANT:BATCH:SPLITS ..." (ncu): the decode steps profiled
#   ROTOR_W8A8_PARTS="decode peer rank" (w8a8): some of its parts (default: all three)
#   ROTOR_STACK_QKV=0 (any step): q/k/v as three GEMMs everywhere (test and tp run both ways anyway)
#   ROTOR_COMMIT=abc1234: the commit the summary names (a copied checkout's .git may lag its tree)
# Needs .gpu-debs (scripts/stage-gpu-deps.sh; unpacked here into .gpu-deps) and .gpu-stage
# (../shared/scripts/stage-for-gpu.sh) in the checkout when the machine has neither our Debian
# packages nor ../shared.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
deps=${ROTOR_GPU_DEPS:-$root/.gpu-deps}
stage=${ROTOR_GPU_STAGE:-$root/.gpu-stage}
steps=${*:-env fixtures build test comm tp tp-bench engine bench fp8}
jobs=$(nproc)
export PATH=/usr/local/cuda/bin:$PATH
if [ ! -d "$deps" ] && [ -d "$root/.gpu-debs" ] && [ -z "${ROTOR_GPU_DEPS:-}" ]; then
  scripts/stage-gpu-deps.sh --unpack >/dev/null
fi
if [ -d "$deps" ]; then
  export PKG_CONFIG_LIBDIR=$deps/usr/lib/x86_64-linux-gnu/pkgconfig:$deps/usr/share/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$deps
  libs=$deps/usr/lib/x86_64-linux-gnu:$deps/lib/x86_64-linux-gnu
fi
run_env=(env "LD_LIBRARY_PATH=${libs:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "ROTOR_FIXTURES=$stage/fixtures")
summary=()
note() { summary+=("$1"); echo "== $1"; }
timed() {  # timed NAME LOG CMD...: runs CMD (at most $STEP_TIMEOUT s) with its output in LOG
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  if timeout "${STEP_TIMEOUT:-1800}" "$@" >"$log" 2>&1; then note "$name: ok ($((SECONDS - t0)) s)"; return 0; fi
  note "$name: FAILED ($((SECONDS - t0)) s), see $(basename "$log")"
  tail -n 30 "$log"
  return 1
}
bin=build/gpu
# kv_dtype DTYPE:STAGES: rotor_bench_decode's --kv-cache-dtype for bf16:4, fp8:4 or fp8:3 (the
# stages go to ROTOR_E4M3_STAGES).
kv_dtype() { local d=${1%:*}; echo ${d/bf16/bfloat16}; }
# latency_runs TAG DESC SPLITS: rotor_bench_latency at batch 1-32 x 16k with the decode split
# modes SPLITS, on 8 layers of 30B-A3B and one TP-8 rank of 235B-A22B, bf16 and W8A8.
latency_runs() {  # latency_runs TAG DESC SPLITS [BATCHES [ENV=VALUE...]]
  local tag=$1 desc=$2 splits=$3 batches=${4:-1,2,4,8,32} cfg q name layers log
  shift $(($# < 4 ? $# : 4))
  for cfg in qwen3-30b-a3b:8 qwen3-235b-a22b-tp8-rank:0; do
    for q in auto w8a8; do
      name=${cfg%%:*}; layers=${cfg##*:}; log="$out/bench-$tag-$name-$q.log"
      timed "latency: $name, ${layers/#0/all} layers, ${q/auto/bf16}, batch $batches x 16k, $desc" "$log" \
        "${run_env[@]}" "$@" $bin/bench/rotor_bench_latency "$stage/configs/$name/config.json" --num-layers "$layers" \
        --quantization $q --batches "$batches" --context 16384 --splits "$splits"
      grep -E "^LATENCY" "$log" | sed 's/^/   /'
    done
  done
}
kv_decode_steps() {  # the 30B-A3B decode step at 32 x 16k, bf16 cache, e4m3 at 4 and 3 stages
  local kv
  for kv in bf16:4 fp8:4 fp8:3; do
    timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs 1, $kv KV cache" \
      "$out/bench-decode-$L30-g1-${kv/:/-s}.log" "${run_env[@]}" ROTOR_E4M3_STAGES=${kv#*:} \
      $bin/bench/rotor_bench_decode "$stage/configs/qwen3-30b-a3b/config.json" --num-layers $L30 \
      --batch 32 --context 16384 --steps 20 --graphs 1 --kv-cache-dtype $(kv_dtype $kv)
    grep -E "^RESULT|roofline|bytes/step" "$out/bench-decode-$L30-g1-${kv/:/-s}.log" | sed 's/^/   /'
  done
}
latency_ab() {  # latency_ab VAR BATCHES VALUE...: rotor_bench_latency per VAR=VALUE, rank and 8 layers of 30B-A3B, W8A8 and bf16 (AB_QUANTS: which)
  local var=$1 batches=$2 cfg q v name log
  shift 2
  for cfg in qwen3-235b-a22b-tp8-rank:0 qwen3-30b-a3b:8; do
    for q in ${AB_QUANTS:-w8a8 auto}; do
      for v in "$@"; do
        name=${cfg%%:*}; log="$out/bench-$var-$v-$name-$q.log"
        timed "latency: $name, ${q/auto/bf16}, batch $batches x 16k, $var=$v" "$log" "${run_env[@]}" "$var=$v" \
          $bin/bench/rotor_bench_latency "$stage/configs/$name/config.json" --num-layers "${cfg##*:}" \
          --quantization $q --batches "$batches" --context 16384 --splits plan
        grep -E "^LATENCY|route_experts" "$log" | sed 's/^/   /'
      done
    done
  done
}
kv_ratio_steps() {  # the 30B-A3B decode step at 32 x 16k with a bf16 and an fp8 cache (issue 20's ratio)
  local kv
  for kv in bf16 fp8; do
    timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs 1, $kv KV cache" \
      "$out/bench-decode-$L30-g1-$kv.log" "${run_env[@]}" $bin/bench/rotor_bench_decode \
      "$stage/configs/qwen3-30b-a3b/config.json" --num-layers $L30 --batch 32 --context 16384 --steps 20 \
      --graphs 1 --kv-cache-dtype $(kv_dtype $kv)
    grep -E "^RESULT|roofline" "$out/bench-decode-$L30-g1-$kv.log" | sed 's/^/   /'
  done
}
rank_fp8_ab() {  # rank_fp8_ab VAR VALUE...: the TP-8 rank in W8A8 with an fp8 cache at batch 8 and 32, 16k, per VAR=VALUE
  local var=$1 b v
  shift
  for b in 8 32; do
    for v in "$@"; do
      timed "decode step, TP-8 rank, w8a8, fp8 KV, batch $b, 16k, $var=$v" "$out/bench-decode-rank-fp8-b$b-$var-$v.log" \
        "${run_env[@]}" "$var=$v" $bin/bench/rotor_bench_decode "$stage/configs/qwen3-235b-a22b-tp8-rank/config.json" \
        --batch $b --context 16384 --steps 20 --graphs 1 --quantization w8a8 --kv-cache-dtype fp8
      grep -E "^RESULT|roofline" "$out/bench-decode-rank-fp8-b$b-$var-$v.log" | sed 's/^/   /'
    done
  done
}
# Nsight Compute, and the per-kernel metrics of its tables (scripts/ncu-summary.py): duration,
# SM clock, DRAM bytes, grid, block, registers, achieved occupancy.
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
ncu_metrics=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,dram__bytes_read.sum,dram__bytes_write.sum
ncu_metrics+=,launch__grid_size,launch__block_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active
ncu_prefill() {  # ncu_prefill TAG QUANT DESC [ENV=VALUE...]: every kernel of a 16k-token prefill of 2 layers of 30B-A3B in a table
  local tag=$1 q=$2 desc=$3
  shift 3
  timed "ncu: 16k-token prefill kernels, 30B-A3B 2 layers, ${q/auto/bf16}, $desc" "$out/ncu-$tag.log" "${run_env[@]}" "$@" \
    "$ncu_bin" --clock-control none --profile-from-start off --metrics "$ncu_metrics" --csv --print-units base \
    --log-file "$out/ncu-$tag.csv" $bin/bench/rotor_bench_latency "$stage/configs/qwen3-30b-a3b/config.json" \
    --num-layers 2 --quantization $q --context 16384 --prefill-chunk 16384 --steps 1 --warmup 1 &&
    python3 scripts/ncu-summary.py "$out/ncu-$tag.csv" | tee "$out/ncu-$tag.md" | head -n 24
}
ncu_env=()  # ENV=VALUE settings ncu_source runs its bench under
ncu_skip=1  # launches of the kernel ncu_source lets pass before the one it profiles
ncu_source() {  # ncu_source TAG KERNEL_REGEX CONFIG BENCH_ARGS...: one launch of a kernel, per SASS instruction
  # Nsight Compute's warp-state sampling of one launch of the kernel (after ncu_skip others) in rotor_bench_latency
  # on configs/CONFIG with BENCH_ARGS (graph nodes profiled one at a time): the report
  # (ncu-src-TAG.ncu-rep), its source page as CSV (every SASS instruction with its stall samples
  # by reason) and scripts/ncu-source.py's table of where the warps wait.
  local tag=$1 kernel=$2 cfg=$3
  shift 3
  timed "ncu source: $tag ($cfg $* ${ncu_env[*]})" "$out/ncu-src-$tag.log" "${run_env[@]}" "${ncu_env[@]}" \
    "$ncu_bin" --graph-profiling node --clock-control none --kernel-name-base demangled -k "regex:$kernel" \
    --launch-skip "$ncu_skip" --launch-count 1 --section SpeedOfLight --section WarpStateStats --section SourceCounters \
    --section MemoryWorkloadAnalysis --section SchedulerStats --section Occupancy -f -o "$out/ncu-src-$tag" \
    $bin/bench/rotor_bench_latency "$stage/configs/$cfg/config.json" "$@" &&
    "$ncu_bin" --import "$out/ncu-src-$tag.ncu-rep" --print-details all >"$out/ncu-src-$tag-details.txt" 2>&1
  "$ncu_bin" --import "$out/ncu-src-$tag.ncu-rep" --page source --print-source sass --csv >"$out/ncu-src-$tag.csv" 2>&1
  grep -E "Duration|Warp Cycles Per Issued|Issue Slots Busy|DRAM Throughput|L2 Cache Throughput|Compute \(SM\) Throughput|Achieved Occupancy" \
    "$out/ncu-src-$tag-details.txt" | head -n 10 | sed 's/^/   /'
  python3 scripts/ncu-source.py "$out/ncu-src-$tag.csv" >"$out/ncu-src-$tag.md" 2>&1
  head -n 40 "$out/ncu-src-$tag.md"
}
prefill_switch_ab() {  # prefill_switch_ab TAG VAR: issue 14's prefill with a switch on (1) and off (0), bf16 beside
  # A 16k-token prefill of 8 layers of 30B-A3B per op, bf16 and W8A8 with VAR=1 and VAR=0, twice
  # interleaved; then the peer configuration's 32 x 16k prefill the three ways.
  local tag=$1 var=$2 cfg=$stage/configs/qwen3-30b-a3b/config.json rep run q f
  for rep in 1 2; do
    for run in auto:1 w8a8:1 w8a8:0; do
      q=${run%:*} f=${run#*:}
      timed "prefill ops: 30B-A3B 8 layers, 16k tokens, ${q/auto/bf16}, $var=$f ($rep)" \
        "$out/$tag-prefill-$q-$f-$rep.log" "${run_env[@]}" $var=$f $bin/bench/rotor_bench_latency "$cfg" \
        --num-layers 8 --quantization $q --context 16384 --prefill-chunk 16384 --steps 5 --warmup 1
      grep -E "^\| (attention|moe|gemm|linear|quant)|^PREFILL" "$out/$tag-prefill-$q-$f-$rep.log" | sed 's/^/   /'
    done
  done
  for run in auto:1 w8a8:1 w8a8:0; do
    q=${run%:*} f=${run#*:}
    timed "peer config: 8 layers, 32 x 16384 prefill + decode, ${q/auto/bf16}, $var=$f" "$out/$tag-peer-$q-$f.log" \
      "${run_env[@]}" $var=$f $bin/bench/rotor_bench_decode "$cfg" --num-layers 8 --batch 32 --context 16384 \
      --steps 8 --prefill --quantization $q
    grep -E "^RESULT|^prefill" "$out/$tag-peer-$q-$f.log" | sed 's/^/   /'
  done
}
ncu_attn() {  # ncu_attn TAG KV [ENV=VALUE...]: decode attention under Nsight Compute (30B-A3B, 2 layers, batch 32, NCU_CONTEXT or 16k)
  # Eager launches with the split plan; speed of light, warp states, occupancy, memory and the
  # scheduler, as ncu prints them, for the split kernel (attn_decode_kernel /
  # attn_decode_e4m3_kernel) of the second timed step.
  local tag=$1 kv=$2
  shift 2
  timed "ncu: decode attention, 30B-A3B, batch 32, context ${NCU_CONTEXT:-16384}, $tag cache $*" "$out/ncu-attn-$tag.log" "${run_env[@]}" "$@" \
    "$ncu_bin" --clock-control none -k regex:'attn_decode(_e4m3)?_kernel' --launch-skip 6 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section MemoryWorkloadAnalysis \
    --section SchedulerStats --section LaunchStats $bin/bench/rotor_bench_decode \
    "$stage/configs/qwen3-30b-a3b/config.json" --num-layers 2 --batch 32 --context ${NCU_CONTEXT:-16384} --steps 4 \
    --warmup 1 --graphs 0 --kv-cache-dtype $(kv_dtype $kv)
  grep -E "Duration|DRAM Throughput|Compute \(SM\)|Issued Warp|No Eligible|Eligible Warps|Warp Cycles Per Issued|Registers Per|Theoretical Occupancy|Grid Size|Waves Per SM|Stall" \
    "$out/ncu-attn-$tag.log" | sed 's/^/   /' | head -n 30
}
gtest_with() {  # gtest_with ENV=VALUE TAG TEST [GTEST_ARGS...]: one test binary with a switch set, its summary
  local sw=$1 tag=$2 t=$3
  shift 3
  timed "$t ($sw)" "$out/$t-$tag.log" "${run_env[@]}" "$sw" $bin/tests/$t "$@"
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/$t-$tag.log" | sed 's/^/   /'
}
early_tests() {  # ROTOR_EARLY_LOADS=1 and ROTOR_FUSED_QUANT=1 against the CPU and the defaults' bits
  timed "test_cuda_w8a8: static linear fused, early loads, bit for bit" "$out/test_cuda_w8a8-early.log" \
    "${run_env[@]}" $bin/tests/test_cuda_w8a8 --gtest_filter='*LinearW8A8Static*:*Gemm*'
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_w8a8-early.log" | sed 's/^/   /'
  timed "test_cuda_ops: GEMMs, attention, router (early loads, fused quantisation)" "$out/test_cuda_ops-early.log" \
    "${run_env[@]}" ROTOR_EARLY_LOADS=1 ROTOR_FUSED_QUANT=1 $bin/tests/test_cuda_ops \
    --gtest_filter='*Gemm*:*PagedAttention*:*PlannedDecodeAttention*:*Route*'
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-early.log" | sed 's/^/   /'
}
early_model_tests() {  # the fixtures through the model with both switches on
  timed "test_model_cuda (early loads, fused quantisation)" "$out/test_model_cuda-early.log" "${run_env[@]}" \
    ROTOR_EARLY_LOADS=1 ROTOR_FUSED_QUANT=1 $bin/tests/test_model_cuda
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-early.log" | sed 's/^/   /'
}
moe_tests() {  # the experts against the CPU, small path (=all) against the tiles (=0), graph replay
  timed "test_cuda_ops: experts (default, small path vs the CPU and vs the tiles)" "$out/test_cuda_ops-moe.log" \
    "${run_env[@]}" $bin/tests/test_cuda_ops --gtest_filter='*Moe*'
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|small vs tiles" "$out/test_cuda_ops-moe.log" | sed 's/^/   /'
  timed "test_cuda_w8a8: experts (default, =all and =0: the same bits), graph replay" \
    "$out/test_cuda_w8a8-moe.log" "${run_env[@]}" $bin/tests/test_cuda_w8a8 --gtest_filter='*MoeExperts*:*Graph*'
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|rel err" "$out/test_cuda_w8a8-moe.log" | sed 's/^/   /'
}
# The 30B-A3B decode step at 32 x 16k holds 57 GiB of bf16 weights and a 48 GiB KV cache: all
# 48 layers on a GPU of 120 GB or more (H200), the first 24 on an 80 GB one (H100). The roofline
# in each result counts the layers that ran, so the ratios mean the same on both.
gpu_mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1)
L30=48
[ "${gpu_mib:-0}" -lt 120000 ] && L30=24

for step in $steps; do
  case $step in
    env)
      { nvidia-smi; nvcc --version; g++ --version | head -1; cmake --version | head -1; ninja --version
        python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
      } >"$out/env.log" 2>&1
      note "env: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
      ;;
    fixtures)  # ROTOR_GPU_FIXTURES=tiny makes only the tiny one
      timed "fixture tiny" "$out/fixtures.log" python3 "$stage/reference/gen_fixtures.py" --out "$stage/fixtures" --config tiny
      timed "fixture tiny W8A8" "$out/fixtures-w8a8.log" python3 "$stage/reference/w8a8_ref.py" \
        --src "$stage/fixtures/tiny-qwen3-moe" --out "$stage/fixtures/tiny-qwen3-moe-w8a8"
      [[ ${ROTOR_GPU_FIXTURES:-tiny small} == *small* ]] && timed "fixture small (30B-A3B layer shapes)" \
        "$out/fixtures-small.log" python3 "$stage/reference/gen_fixtures.py" --out "$stage/fixtures" --config small \
        --skip-ref-check
      ;;
    build)
      timed "configure" "$out/configure.log" cmake -S . -B $bin -G Ninja -DROTOR_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
        -DROTOR_SHARED="$stage" -DCMAKE_PREFIX_PATH="$deps/usr"
      timed "build (-j$jobs)" "$out/build.log" cmake --build $bin -j"$jobs" --target ${ROTOR_GPU_TARGETS:-rotor \
        test_cuda_ops test_cuda_w8a8 test_model_cuda test_comm_cuda test_tp_cuda rotor_bench_kernels \
        rotor_bench_decode rotor_bench_allreduce rotor_bench_latency}
      grep -E "Found NCCL" "$out/configure.log" | sed 's/^/   /'
      ;;
    ops | test)
      # ops: the op tests only (no fixtures needed); test: then the model on the fixtures.
      timed "test_cuda_ops" "$out/test_cuda_ops.log" "${run_env[@]}" $bin/tests/test_cuda_ops
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops.log" | sed 's/^/   /'
      # W8A8 ops against the CPU (bit-exact quantisation and GEMMs; experts within bf16 rounding)
      timed "test_cuda_w8a8" "$out/test_cuda_w8a8.log" "${run_env[@]}" $bin/tests/test_cuda_w8a8
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|rel err" "$out/test_cuda_w8a8.log" | sed 's/^/   /'
      [ "$step" = ops ] && continue
      timed "test_model_cuda (fixtures on the GPU, graphs on/off)" "$out/test_model_cuda.log" \
        "${run_env[@]}" $bin/tests/test_model_cuda
      grep -E "rel err|agreement|^\[  FAILED  \]" "$out/test_model_cuda.log" | sed 's/^/   /'
      # q/k/v as three GEMMs (model/stack_qkv.h stacks them by default).
      timed "test_model_cuda with ROTOR_STACK_QKV=0" "$out/test_model_cuda-stack0.log" \
        "${run_env[@]}" ROTOR_STACK_QKV=0 $bin/tests/test_model_cuda
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-stack0.log" | sed 's/^/   /'
      timed "rotor generate on the GPU (tiny fixture)" "$out/generate.log" "${run_env[@]}" $bin/apps/rotor generate \
        "$stage/fixtures/tiny-qwen3-moe" --device cuda --prompt-ids 785,6722,315 --max-tokens 16 --output json
      timed "rotor generate, dummy 30B-A3B (4 layers), --gpu-memory-utilization 0.5" "$out/generate-30b.log" \
        "${run_env[@]}" $bin/apps/rotor generate "$stage/configs/qwen3-30b-a3b/config.json" --load-format dummy \
        --num-layers 4 --device cuda --gpu-memory-utilization 0.5 --prompt-ids 785,6722,315 --prompt-ids 11,12 \
        --prompt-ids 7 --max-tokens 8
      grep -E "KV cache|decode:" "$out/generate-30b.log" | sed 's/^/   /'
      # --kv-cache-dtype fp8 (issue 20): test_cuda_ops runs every attention kernel on an e4m3
      # cache against the CPU (*E4m3Cache*), test_model_cuda the fixtures with an FP8 cache
      # against a bf16 one (Fp8KvCache*); here rotor generate serves from one.
      timed "rotor generate on the GPU, fp8 KV cache (tiny fixture)" "$out/generate-fp8.log" "${run_env[@]}" \
        $bin/apps/rotor generate "$stage/fixtures/tiny-qwen3-moe" --device cuda --kv-cache-dtype fp8 \
        --calculate-kv-scales --prompt-ids 785,6722,315 --max-tokens 16 --output json
      grep -E "KV cache|output_ids" "$out/generate-fp8.log" | sed 's/^/   /'
      ;;
    comm)
      # Tensor-parallel collectives with ranks as threads: on one GPU the ranks share it (no
      # NCCL); the NCCL test runs only with 2 or more GPUs. Then the all-reduce latency per
      # message size (docs/perf-log.md, and the thresholds in src/comm/cuda_comm.h).
      timed "test_comm_cuda (peer all-reduce 2/4/8 ranks, 2 KiB-16 MiB, fused norm, NCCL if >= 2 GPUs)" \
        "$out/test_comm_cuda.log" "${run_env[@]}" $bin/tests/test_comm_cuda
      grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$out/test_comm_cuda.log" | sed 's/^/   /'
      timed "all-reduce latency (rotor_bench_allreduce)" "$out/bench-allreduce.log" \
        "${run_env[@]}" $bin/bench/rotor_bench_allreduce
      grep -E "^\||ranks on" "$out/bench-allreduce.log"
      ;;
    prefill-lane)
      # The prefill lane (docs/prefill-lane.md): the Engine with and without it, on 1 rank and
      # on 2 ranks sharing GPU 0, the lanes sharing the SMs: the same tokens up to near ties.
      timed "test_tp_cuda: the Engine with a prefill lane, 1 and 2 ranks" "$out/test_tp_cuda-lane.log" \
        "${run_env[@]}" $bin/tests/test_tp_cuda --gtest_filter='*PrefillLane*'
      grep -E "requests give|^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$out/test_tp_cuda-lane.log" | sed 's/^/   /'
      ;;
    tp)
      # Tensor and expert parallelism with every rank on GPU 0 where there are fewer GPUs than
      # ranks (test_tp_cuda sets ROTOR_SAME_DEVICE_RANKS itself): the small fixture split 2 and
      # 4 ways against one rank (logits rel err < 1e-2, argmax >= 98%), graphs on/off and async
      # on/off identical, structured outputs over 2 ranks (valid, each grammar fed once per
      # step, identical across async and graphs); then rotor generate over 2 ranks.
      for stack in 0 1; do
        timed "test_tp_cuda (TP/EP 2 and 4 vs 1 rank, graphs and async on/off, structured outputs), ROTOR_STACK_QKV=$stack" \
          "$out/test_tp_cuda-stack$stack.log" "${run_env[@]}" ROTOR_STACK_QKV=$stack $bin/tests/test_tp_cuda
        grep -E "rel err|^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$out/test_tp_cuda-stack$stack.log" | sed 's/^/   /'
      done
      timed "rotor generate, tiny fixture, TP 2 on one GPU (async)" "$out/generate-tp2.log" "${run_env[@]}" \
        ROTOR_SAME_DEVICE_RANKS=1 $bin/apps/rotor generate "$stage/fixtures/tiny-qwen3-moe" --device cuda \
        --tensor-parallel-size 2 --async-scheduling --prompt-ids 785,6722,315 --prompt-ids 1,2,3,4 --max-tokens 16 \
        --output json
      grep -E "output_ids" "$out/generate-tp2.log" | sed 's/^/   /'
      ;;
    tp-bench)
      # The 30B-A3B decode step with TP 2 (and TP 2 EP) on one GPU beside TP 1 (docs/perf-log.md).
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      for tp in "1" "2" "2 --enable-expert-parallel"; do
        name=tp${tp// --enable-expert-parallel/-ep}
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs, TP $tp (one GPU)" \
          "$out/bench-decode-$name.log" "${run_env[@]}" ROTOR_SAME_DEVICE_RANKS=1 $bin/bench/rotor_bench_decode "$cfg" \
          --num-layers $L30 --batch 32 --context 16384 --steps 20 --graphs 1 --tensor-parallel-size $tp
        grep -E "^RESULT|roofline" "$out/bench-decode-$name.log" | sed 's/^/   /'
      done
      ;;
    engine)
      # The engine on the GPU (8 layers of 30B-A3B, dummy weights): the decode rate with async
      # scheduling off and on (graphs on), greedy tokens identical async/sync/eager; then
      # sampled outputs with penalties identical across async on/off and graphs on/off.
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      gen=(timeout 120 "${run_env[@]}" $bin/apps/rotor generate "$cfg" --load-format dummy --num-layers 8
           --device cuda --max-num-seqs 32 --ignore-eos)
      eager=(--compilation-config '{"cudagraph_mode": "NONE"}')
      prompts=()
      for i in $(seq 1 32); do prompts+=(--prompt-ids "$((i * 37)),$((i * 101)),$((i * 7 + 3)),11,12,13,14,15"); done
      for run in b32-sync b32-async b32-eager b1-sync b1-async; do
        b=${run%%-*}; b=${b#b}; flag=()
        [[ $run == *async ]] && flag=(--async-scheduling)
        [[ $run == *eager ]] && flag=("${eager[@]}")
        "${gen[@]}" "${prompts[@]:0:$((2 * b))}" --max-tokens 256 "${flag[@]}" >"$out/engine-$run.out" \
          2>"$out/engine-$run.log" || note "generate $run: FAILED, see engine-$run.log"
        grep -o "decode: .*" "$out/engine-$run.log" | sed "s/^/   $run /"
      done
      same=ok
      for run in b32-async b32-eager; do cmp -s "$out/engine-b32-sync.out" "$out/engine-$run.out" || same=FAILED; done
      cmp -s "$out/engine-b1-sync.out" "$out/engine-b1-async.out" || same=FAILED
      note "engine greedy tokens, async / sync / eager identical: $same"
      same=ok
      for mode in sync-graphs async-graphs sync-eager async-eager; do
        flag=(); [[ $mode == async* ]] && flag+=(--async-scheduling)
        [[ $mode == *eager ]] && flag+=("${eager[@]}")
        "${gen[@]}" "${prompts[@]:0:16}" --max-tokens 32 --temperature 0.7 --repetition-penalty 1.2 \
          --presence-penalty 0.5 --frequency-penalty 0.3 --output json "${flag[@]}" \
          >"$out/engine-pen-$mode.json" 2>>"$out/engine-pen.log" || same=FAILED
        cmp -s "$out/engine-pen-sync-graphs.json" "$out/engine-pen-$mode.json" || same=FAILED
      done
      note "engine sampled outputs with penalties, async on/off x graphs on/off identical: $same"
      ;;
    bench)
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      timed "kernel benchmarks (30B-A3B shapes)" "$out/bench-kernels.log" "${run_env[@]}" $bin/bench/rotor_bench_kernels "$cfg"
      grep -E "^\| " "$out/bench-kernels.log"
      timed "W8A8 kernel benchmarks (235B-A22B shapes)" "$out/bench-kernels-w8a8-235b.log" "${run_env[@]}" \
        $bin/bench/rotor_bench_kernels "$stage/configs/qwen3-235b-a22b-instruct-2507/config.json" --w8a8-only
      grep -E "^\| " "$out/bench-kernels-w8a8-235b.log"
      for g in 1 0; do
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs $g" "$out/bench-decode-$L30-g$g.log" \
          "${run_env[@]}" $bin/bench/rotor_bench_decode "$cfg" --num-layers $L30 --batch 32 --context 16384 --steps 20 \
          --graphs $g
        grep -E "^RESULT|roofline|bytes/step" "$out/bench-decode-$L30-g$g.log" | sed 's/^/   /'
      done
      timed "decode step 8 layers, batch 1, 16k context" "$out/bench-decode-8-b1.log" \
        "${run_env[@]}" $bin/bench/rotor_bench_decode "$cfg" --num-layers 8 --batch 1 --context 16384 --steps 50
      grep -E "^RESULT|roofline" "$out/bench-decode-8-b1.log" | sed 's/^/   /'
      ;;
    fp8)
      # Issue 20, the FP8 KV cache: the 48-layer 30B-A3B decode step at 32 x 16k with a bf16 and
      # an fp8 cache in the same run (target: fp8 >= 1.3x faster), then prefill on a cached
      # prefix reading fp8 against bf16 (at most a few percent slower). First the attention
      # kernels on an e4m3 cache against the CPU and the fixtures with an FP8 cache.
      # The e4m3 decode kernel both ways: 4 tiles in flight per warp (the default) and 3
      # (ROTOR_E4M3_STAGES=3: 4 blocks an SM instead of 3).
      for st in 4 3; do
        timed "test_cuda_ops: attention on bf16 and e4m3 caches vs the CPU, e4m3 stages $st" \
          "$out/test_cuda_ops-attention-s$st.log" "${run_env[@]}" ROTOR_E4M3_STAGES=$st $bin/tests/test_cuda_ops \
          --gtest_filter='*PagedAttention*:*PlannedDecodeAttention*:*E4m3*'
        grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-attention-s$st.log" | sed 's/^/   /'
      done
      timed "test_model_cuda: the fixtures with an FP8 KV cache" "$out/test_model_cuda-fp8.log" \
        "${run_env[@]}" $bin/tests/test_model_cuda --gtest_filter='*Fp8*'
      grep -E "fp8 KV|^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-fp8.log" | sed 's/^/   /'
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      kv_decode_steps
      for kv in bf16:4 fp8:4; do
        timed "peer config: 8 layers, batch 32, 32 x 16384 prefill + decode, $kv KV cache" \
          "$out/bench-peer-8-${kv/:/-s}.log" "${run_env[@]}" ROTOR_E4M3_STAGES=${kv#*:} \
          $bin/bench/rotor_bench_decode "$cfg" --num-layers 8 --batch 32 --context 16384 --steps 32 \
          --prefill --kv-cache-dtype $(kv_dtype $kv)
        grep -E "^RESULT|^prefill|roofline|bytes/step" "$out/bench-peer-8-${kv/:/-s}.log" | sed 's/^/   /'
      done
      ;;
    fp8-rank)
      # Issues 20 and 21: one TP-8 rank of 235B-A22B in W8A8 with an FP8 KV cache at batch 8 and
      # 32, 16k context, with QK-norm + RoPE inside decode attention (the default; its e4m3
      # kernel for 16-head groups holds 2 blocks an SM where the plain one holds 3) and with the
      # two ops (ROTOR_FUSED_QK_ATTENTION=0), so the default is kept only where it is not slower.
      rank_fp8_ab ROTOR_FUSED_QK_ATTENTION 1 0
      ;;
    gateup-stages)
      # Issues 14, 20 and 21: the 16-row expert gate+up tiles 4 stages deep (5 blocks an SM)
      # against 3 (7), bf16 and W8A8: the experts against the CPU both ways, rotor_bench_latency
      # at batch 4-32 x 16k on one TP-8 rank of 235B-A22B and 8 layers of 30B-A3B with each depth
      # forced (the rule, gate_up_3_stages, follows these numbers), then the 30B-A3B step at 32 x
      # 16k with a bf16 and an fp8 cache at the rule's depth (issue 20's ratio).
      for st in 4 3; do
        gtest_with ROTOR_GATEUP_STAGES=$st gateup$st test_cuda_w8a8 --gtest_filter='*MoeExperts*:*Graph*:*GateUpDepth*'
        gtest_with ROTOR_GATEUP_STAGES=$st gateup$st test_cuda_ops --gtest_filter='*Moe*'
      done
      latency_ab ROTOR_GATEUP_STAGES 4,8,16,32 4 3
      kv_ratio_steps
      ;;
    narrow)
      # Issues 14 and 21: dense bf16 GEMMs of few rows and small N (the routers: 128 x 4096 on
      # the TP-8 rank, 128 x 2048 on 30B-A3B) in 16-row W blocks against 64-row ones: the GEMM
      # and router tests both ways, then rotor_bench_latency at batch 4, 8 and 32 (the router's
      # mma tiles; 1-2 rows run the GEMV) on both models, bf16 and W8A8, each way.
      for sw in 1 0; do
        gtest_with ROTOR_NARROW_GEMM=$sw narrow$sw test_cuda_ops --gtest_filter='*Gemm*:*Route*'
      done
      latency_ab ROTOR_NARROW_GEMM 4,8,32 1 0
      ;;
    fused-moe)
      # Issues 14 and 21: the W8A8 experts' 16-row (decode) tiles with x's per-token quantisation
      # in align's launch (the default) against a launch of its own: the experts bit for bit both
      # ways against the CPU and each other and from a graph (test_cuda_w8a8), then
      # rotor_bench_latency at batch 4, 8 and 32 in W8A8 on both models, on and off.
      moe_tests
      AB_QUANTS=w8a8 latency_ab ROTOR_FUSED_ALIGN 4,8,32 1 0
      ;;
    final-bench)
      # A session's closing numbers on its final tree: rotor_bench_latency with plans at batch
      # 1-32 x 16k on both models in bf16 and W8A8 (issues 14 and 21), then the 30B-A3B decode
      # step at 32 x 16k with a bf16 and an fp8 cache (issue 20's ratio).
      latency_runs final "plan" plan 1,4,8,32
      kv_ratio_steps
      ;;
    e4m3-stages)
      # Issue 20: e4m3 decode attention 4 tiles in flight per warp (the default) against 3 (fewer
      # registers and shared memory, more blocks an SM), same run: the 30B-A3B decode step at 32
      # x 16k (bf16 weights; bf16 cache beside it for the ratio) and one TP-8 rank in W8A8 at
      # batch 8 and 32, both with an fp8 cache; the e4m3 attention tests at both depths first.
      for st in 4 3; do
        gtest_with ROTOR_E4M3_STAGES=$st e4m3-$st test_cuda_ops --gtest_filter='*E4m3*:*FusedQk*'
      done
      kv_decode_steps
      rank_fp8_ab ROTOR_E4M3_STAGES 4 3
      ;;
    w8a8)
      # Issue 14, W8A8 beside bf16 in the same run: the 30B-A3B decode step at 32 x 16k (W8A8:
      # >= 88% of its roofline, >= 1.25x bf16), the 8-layer peer configuration (32 x 16384
      # prefill, then decode; W8A8 prefill >= 1.25x bf16's), and one TP-8 rank of 235B-A22B,
      # all 94 layers, at 32 x 16k in W8A8 (>= 80% of its roofline). ROTOR_W8A8_PARTS picks
      # some of "decode peer rank" (the default: all three).
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      parts=" ${ROTOR_W8A8_PARTS:-decode peer rank} "
      for part in $parts; do
        case $part in decode | peer | rank) ;; *) echo "ROTOR_W8A8_PARTS: unknown part '$part' (decode, peer, rank)" >&2; exit 2 ;; esac
      done
      [[ $parts == *" decode "* ]] && for q in auto w8a8; do
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs 1, ${q/auto/bf16}" \
          "$out/bench-decode-$L30-g1-$q.log" "${run_env[@]}" $bin/bench/rotor_bench_decode "$cfg" --num-layers $L30 \
          --batch 32 --context 16384 --steps 20 --graphs 1 --quantization $q
        grep -E "^RESULT|roofline|bytes/step" "$out/bench-decode-$L30-g1-$q.log" | sed 's/^/   /'
      done
      [[ $parts == *" peer "* ]] && for q in auto w8a8; do
        timed "peer config: 8 layers, batch 32, 32 x 16384 prefill + decode, ${q/auto/bf16}" \
          "$out/bench-peer-8-$q.log" "${run_env[@]}" $bin/bench/rotor_bench_decode "$cfg" --num-layers 8 --batch 32 \
          --context 16384 --steps 32 --prefill --quantization $q
        grep -E "^RESULT|^prefill|roofline|bytes/step" "$out/bench-peer-8-$q.log" | sed 's/^/   /'
      done
      [[ $parts == *" rank "* ]] && for stack in 0 1; do  # q/k/v as three GEMMs, then as one (model/stack_qkv.h)
        timed "decode step, one TP-8 rank of 235B-A22B, 94 layers, batch 32, 16k context, graphs 1, w8a8, ROTOR_STACK_QKV=$stack" \
          "$out/bench-decode-235b-tp8-rank-w8a8-stack$stack.log" "${run_env[@]}" ROTOR_STACK_QKV=$stack \
          $bin/bench/rotor_bench_decode "$stage/configs/qwen3-235b-a22b-tp8-rank/config.json" --batch 32 --context 16384 \
          --steps 20 --graphs 1 --quantization w8a8
        grep -E "^RESULT|roofline|bytes/step" "$out/bench-decode-235b-tp8-rank-w8a8-stack$stack.log" | sed 's/^/   /'
      done
      ;;
    latency)
      # Issue 21, small-batch decode (docs/gpu.md, "Decode attention's split plan"): the planned
      # decode attention against the CPU, the model tests with the fixed splits (plans are the
      # GPU's default, so the test step runs them with plans), then rotor_bench_latency — one decode step per kernel at batch 1, 2,
      # 4, 8, 32 and 16k context, fixed splits and a plan per step, beside BENCHMARK.md's
      # roofline — on 8 layers of 30B-A3B and one TP-8 rank of 235B-A22B, bf16 and W8A8; last the
      # 48-layer batch-32 step with plans on and off (plans must not slow it).
      timed "test_cuda_ops: decode attention (fixed splits and split plans) vs the CPU" \
        "$out/test_cuda_ops-attention.log" "${run_env[@]}" $bin/tests/test_cuda_ops \
        --gtest_filter='*PagedAttention*:*PlannedDecodeAttention*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-attention.log" | sed 's/^/   /'
      timed "test_model_cuda with ROTOR_DECODE_SPLITS=fixed (the GPU plans by default)" "$out/test_model_cuda-fixed.log" \
        "${run_env[@]}" ROTOR_DECODE_SPLITS=fixed $bin/tests/test_model_cuda
      grep -E "rel err|agreement|^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-fixed.log" | sed 's/^/   /'
      latency_runs latency "fixed splits vs plan" fixed,plan
      for splits in fixed plan; do
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs, ROTOR_DECODE_SPLITS=$splits" \
          "$out/bench-decode-$L30-$splits.log" "${run_env[@]}" ROTOR_DECODE_SPLITS=$splits $bin/bench/rotor_bench_decode \
          "$stage/configs/qwen3-30b-a3b/config.json" --num-layers $L30 --batch 32 --context 16384 --steps 20 --graphs 1
        grep -E "^RESULT|roofline" "$out/bench-decode-$L30-$splits.log" | sed 's/^/   /'
      done
      ;;
    gemv)
      # Issue 21: dense GEMMs of 1-8 rows on the GEMV kernels (gemv.cu) against the mma tiles
      # (ROTOR_GEMV=0): the GEMMs against the CPU (W8A8 bit for bit, and GEMV against mma), the
      # fixtures with the defaults (GEMV, split plans), then the decode step per kernel at batch
      # 1-8 with and without.
      timed "test_cuda_ops: GEMMs vs the CPU, rows independent of the batch" "$out/test_cuda_ops-gemm.log" \
        "${run_env[@]}" $bin/tests/test_cuda_ops --gtest_filter='*Gemm*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-gemm.log" | sed 's/^/   /'
      timed "test_cuda_w8a8: W8A8 GEMMs bit for bit (GEMV and mma)" "$out/test_cuda_w8a8-gemm.log" \
        "${run_env[@]}" $bin/tests/test_cuda_w8a8 --gtest_filter='*Gemm*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_w8a8-gemm.log" | sed 's/^/   /'
      timed "test_model_cuda (defaults: GEMV, split plans)" "$out/test_model_cuda.log" \
        "${run_env[@]}" $bin/tests/test_model_cuda
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda.log" | sed 's/^/   /'
      latency_runs gemv-off "mma tiles (ROTOR_GEMV=0)" plan 1,2,4,8 ROTOR_GEMV=0
      latency_runs gemv-on "GEMV kernels" plan 1,2,4,8
      ;;
    prefetch)
      # Issue 21, the L2 weight prefetch (docs/weight-prefetch.md; built, off): it changes no
      # value (the op on random weights, the fixtures' tokens with it on and off, graphs on and
      # off), then rotor_bench_latency with and without it at batch 1-32 on 8 layers of 30B-A3B
      # and one TP-8 rank of 235B-A22B, bf16 and W8A8. Keep it where the step falls.
      timed "test_cuda_ops: the L2 prefetch changes no value" "$out/test_cuda_ops-prefetch.log" "${run_env[@]}" \
        $bin/tests/test_cuda_ops --gtest_filter='*PrefetchL2*'
      timed "test_model_cuda: the fixtures' tokens with the weight prefetch" "$out/test_model_cuda-prefetch.log" \
        "${run_env[@]}" $bin/tests/test_model_cuda --gtest_filter='*WeightPrefetch*'
      grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$out/test_model_cuda-prefetch.log" | sed 's/^/   /'
      latency_runs prefetch "prefetch off vs on" fixed,fixed+prefetch
      ;;
    defaults)
      # The decode defaults of small batches (issue 21: split plans, GEMV up to 2 / 4 rows, the
      # experts' small path where it measured faster): the expert tests, then the step per
      # kernel at batch 1-32 on 8 layers of 30B-A3B and one TP-8 rank of 235B-A22B.
      moe_tests
      latency_runs defaults "the defaults" plan 1,2,4,8,32
      ;;
    moe-small)
      # Issue 21, the experts' small-batch path (kernels/cuda/moe_small.cuh: two kernels; by
      # default where it measured faster, ROTOR_MOE_SMALL=all wherever it can run, =0 never):
      # the expert tests (against the CPU at batch 1, 2, 3, 8 and the real shapes; bf16 within
      # 2^-9 of the tiles, W8A8 the tiles' bits; a 4-token graph replay), rotor_bench_kernels'
      # expert rows at batch 1, 2, 4, 8 on the small path and on the tiles, 30B-A3B and one TP-8
      # rank of 235B-A22B (bf16, W8A8), the fixtures through the model with the small path at
      # every batch it can take, then the decode step per kernel with it nowhere / everywhere.
      moe_tests
      for name in qwen3-30b-a3b qwen3-235b-a22b-tp8-rank; do
        timed "kernel benchmarks ($name shapes), experts small vs tiles" "$out/bench-kernels-moe-$name.log" \
          "${run_env[@]}" $bin/bench/rotor_bench_kernels "$stage/configs/$name/config.json"
        grep -E "^\| (copy|w8a8 moe_experts|moe_experts)" "$out/bench-kernels-moe-$name.log" | sed 's/^/   /'
      done
      timed "test_model_cuda with ROTOR_MOE_SMALL=all (experts of up to 64 slots on the small path)" \
        "$out/test_model_cuda-moe.log" "${run_env[@]}" ROTOR_MOE_SMALL=all $bin/tests/test_model_cuda
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-moe.log" | sed 's/^/   /'
      latency_runs moe-tiles "experts on the tiles (ROTOR_MOE_SMALL=0)" plan 1,2,4,8 ROTOR_MOE_SMALL=0
      latency_runs moe-small "experts on the small path wherever it runs (ROTOR_MOE_SMALL=all)" plan 1,2,4,8 \
        ROTOR_MOE_SMALL=all
      ;;
    verify)
      # A short call's check of what changed last (~100 s after the build): the fused router and
      # every attention kernel against their references, the fixtures through the model (the
      # router fused at 1-2 rows, an FP8 cache), then the 30B-A3B decode step at 32 x 16k with a
      # bf16 and an fp8 cache (issue 20's ratio).
      timed "test_cuda_ops: router, attention on bf16 and e4m3 caches" "$out/test_cuda_ops-verify.log" \
        "${run_env[@]}" $bin/tests/test_cuda_ops --gtest_filter='*Route*:*PagedAttention*:*PlannedDecodeAttention*:*E4m3*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-verify.log" | sed 's/^/   /'
      timed "test_model_cuda (the router fused)" "$out/test_model_cuda-verify.log" "${run_env[@]}" \
        ROTOR_FUSED_ROUTER=1 $bin/tests/test_model_cuda
      grep -E "fp8 KV|^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-verify.log" | sed 's/^/   /'
      for kv in bf16 fp8; do
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k context, graphs 1, $kv KV cache" \
          "$out/bench-decode-$L30-g1-$kv.log" "${run_env[@]}" $bin/bench/rotor_bench_decode \
          "$stage/configs/qwen3-30b-a3b/config.json" --num-layers $L30 --batch 32 --context 16384 --steps 20 --graphs 1 \
          --kv-cache-dtype ${kv/bf16/bfloat16}
        grep -E "^RESULT|roofline|bytes/step" "$out/bench-decode-$L30-g1-$kv.log" | sed 's/^/   /'
      done
      ;;
    router)
      # Issue 21, the router in one kernel at batch 1-2 (route_experts: gemv.cu's gemv_route):
      # its tests (the bits of gemm + moe_route, twice in a row and from a graph replayed twice;
      # the CPU's results), the fixtures through the model, rotor_bench_kernels' router rows (one
      # kernel against two) at 30B-A3B's and a TP-8 rank of 235B-A22B's shapes (K = 2048, 4096),
      # then the decode step per kernel at batch 1 and 2.
      timed "test_cuda_ops: the router in one op vs gemm + moe_route and the CPU, graph replay" \
        "$out/test_cuda_ops-router.log" "${run_env[@]}" $bin/tests/test_cuda_ops --gtest_filter='*Route*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-router.log" | sed 's/^/   /'
      timed "test_model_cuda (the router in one kernel at batch 1-2)" "$out/test_model_cuda-router.log" \
        "${run_env[@]}" ROTOR_FUSED_ROUTER=1 $bin/tests/test_model_cuda
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_model_cuda-router.log" | sed 's/^/   /'
      for name in qwen3-30b-a3b qwen3-235b-a22b-tp8-rank; do
        timed "kernel benchmarks ($name shapes), the router in one kernel vs two" \
          "$out/bench-kernels-router-$name.log" "${run_env[@]}" $bin/bench/rotor_bench_kernels \
          "$stage/configs/$name/config.json"
        grep -E "^\| (copy|route_experts|gemm \+ moe_route)" "$out/bench-kernels-router-$name.log" | sed 's/^/   /'
      done
      latency_runs router-off "the router in two kernels (the default)" plan 1,2
      latency_runs router-on "the router in one kernel (ROTOR_FUSED_ROUTER=1)" plan 1,2 ROTOR_FUSED_ROUTER=1
      ;;
    early)
      # Issue 21: loads before pdl_wait (ROTOR_EARLY_LOADS=1: the GEMVs' first W step in registers,
      # their second and decode attention's first K/V tokens prefetched into L2, while the kernel
      # before still runs) and a static W8A8 linear's quantisation inside its GEMV
      # (ROTOR_FUSED_QUANT=1): the bits against the CPU, the GPU suites with both on, then the
      # decode step at batch 1-32 with both off and on, in the same run.
      early_tests
      early_model_tests
      latency_runs early-off "loads after pdl_wait, quant_static apart (the defaults)" plan 1,2,4,8,32
      latency_runs early-on "early loads, fused quantisation" plan 1,2,4,8,32 ROTOR_EARLY_LOADS=1 ROTOR_FUSED_QUANT=1
      ;;
    early-moe)
      # Issue 21: the small experts' down kernel reading its weights, their scales and the router
      # weights before pdl_wait while gate+up runs (the default; ROTOR_EARLY_EXPERTS=0: after):
      # the experts' tests and the fixtures through the model with it off (the default runs in
      # every other step), then the decode step at batch 1-8 with PDL off (ROTOR_PDL=0: what the
      # overlap of launches gives at all), with it off, and the defaults.
      for t in test_cuda_ops test_cuda_w8a8; do gtest_with ROTOR_EARLY_EXPERTS=0 early-moe $t --gtest_filter='*Moe*'; done
      gtest_with ROTOR_EARLY_EXPERTS=0 early-moe test_model_cuda
      latency_runs pdl-off "PDL off (ROTOR_PDL=0)" plan 1,2,4,8 ROTOR_PDL=0
      latency_runs moe-late "the experts' down loading after pdl_wait (ROTOR_EARLY_EXPERTS=0)" plan 1,2,4,8 \
        ROTOR_EARLY_EXPERTS=0
      latency_runs moe-default "the defaults" plan 1,2,4,8
      ;;
    early-attn)
      # Issue 21: decode attention's blocks whose tokens all precede this step's issue their
      # first K/V tiles before pdl_wait, while QK-norm + RoPE runs (the default;
      # ROTOR_EARLY_ATTENTION=0: after): the attention tests and the fixtures through the model
      # with it off (the default runs in every other step), then the decode step at batch 1-32
      # off and on.
      gtest_with ROTOR_EARLY_ATTENTION=0 early-attn test_cuda_ops --gtest_filter='*PagedAttention*:*PlannedDecodeAttention*'
      gtest_with ROTOR_EARLY_ATTENTION=0 early-attn test_model_cuda
      latency_runs attn-late "decode attention waiting first (ROTOR_EARLY_ATTENTION=0)" plan 1,2,4,8,32 \
        ROTOR_EARLY_ATTENTION=0
      latency_runs attn-early "decode attention's first tiles before pdl_wait (the default)" plan 1,2,4,8,32
      ;;
    fused-qk)
      # Issue 21: a step of decode rows taking QK-norm + RoPE and the cache write inside the decode
      # attention kernel (the default; ROTOR_FUSED_QK_ATTENTION=0: two ops): the fused op against
      # the two ops and the decode attention tests, the fixtures through the model with it off,
      # then the decode step at batch 1-32 off and on.
      gtest_with ROTOR_FUSED_QK_ATTENTION=1 fused-qk test_cuda_ops \
        --gtest_filter='*FusedQkAttention*:*PagedAttention*:*PlannedDecodeAttention*:*QkNormRope*'
      gtest_with ROTOR_FUSED_QK_ATTENTION=0 qk-apart test_model_cuda
      latency_runs qk-apart "QK-norm + RoPE and decode attention apart (ROTOR_FUSED_QK_ATTENTION=0)" plan \
        1,2,4,8,32 ROTOR_FUSED_QK_ATTENTION=0
      latency_runs qk-fused "QK-norm + RoPE fused into decode attention (the default)" plan 1,2,4,8,32
      ;;
    merge)
      # Issue 21: decode attention's merge by 8 groups of threads where a sequence has many splits
      # (the default) against one group (ROTOR_MERGE_WIDE=0): the attention tests each way, then
      # the decode step at batch 1, 4 and 32 each way.
      for mw in 0 1; do
        gtest_with ROTOR_MERGE_WIDE=$mw merge-$mw test_cuda_ops --gtest_filter='*PagedAttention*:*PlannedDecodeAttention*'
      done
      latency_runs merge-narrow "the merge by one thread group (ROTOR_MERGE_WIDE=0)" plan 1,4,32 ROTOR_MERGE_WIDE=0
      latency_runs merge-wide "the merge by 8 thread groups (the default)" plan 1,4,32
      # Fewer, longer splits at batch 1-4 (the planner's shortest is 128 tokens): fewer partials
      # to merge against less parallelism in the attention kernel.
      for m in 256 512; do
        log="$out/bench-split-min$m-rank-w8a8.log"
        timed "latency: TP-8 rank, W8A8, batch 1,4 x 16k, splits of at least $m tokens" "$log" "${run_env[@]}" \
          $bin/bench/rotor_bench_latency "$stage/configs/qwen3-235b-a22b-tp8-rank/config.json" --num-layers 0 \
          --quantization w8a8 --batches 1,4 --context 16384 --splits plan --split-min $m
        grep -E "^LATENCY" "$log" | sed 's/^/   /'
      done
      ;;
    stages)
      # Issue 20 in a short call (~90 s): the e4m3 decode kernel at 3 stages against the CPU, then
      # the 30B-A3B decode step at 32 x 16k with a bf16 and an fp8 cache at 4 and 3 stages.
      timed "test_cuda_ops: attention on bf16 and e4m3 caches, e4m3 stages 3" "$out/test_cuda_ops-attention-s3.log" \
        "${run_env[@]}" ROTOR_E4M3_STAGES=3 $bin/tests/test_cuda_ops --gtest_filter='*PagedAttention*:*PlannedDecodeAttention*'
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-attention-s3.log" | sed 's/^/   /'
      kv_decode_steps
      ;;
    kv-steps)
      # Issue 20's ratio alone (~70 s, no tests): the 30B-A3B decode step at 32 x 16k with a bf16
      # cache and an e4m3 one at 4 and 3 stages (48 layers on an H200, 24 on an H100).
      kv_decode_steps
      ;;
    lanes)
      # A GPU's lanes on their own SMs (green contexts) and priorities: test_cuda_ops' CudaLanes.
      timed "test_cuda_ops: lanes on SM partitions" "$out/test_cuda_ops-lanes.log" "${run_env[@]}" \
        $bin/tests/test_cuda_ops --gtest_filter='CudaLanes*'
      grep -E "SMs|^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-lanes.log" | sed 's/^/   /'
      ;;
    overlap)
      # Whether a prefill chunk beside the decode steps (a second stream on the GPU) costs the
      # decoding sequences less than one inside a step (docs/gpu.md, the seed workload's prefill
      # stalls): 30B-A3B W8A8 with an FP8 cache, 32 x 16k decoding, one 16k chunk a time, with
      # the lanes' priorities equal, with the decode lane the most urgent, and with the SMs split
      # between the lanes (green contexts: the decode lane on OVERLAP_SMS, each a run, prefill on
      # the rest; their losses counted against the first run's whole-GPU times).
      ref=()
      for run in p0:0 p-5:0 $(printf 'p0:%s ' ${OVERLAP_SMS:-112 96 64}); do
        prio=${run%%:*}; prio=${prio#p}; sms=${run#*:}
        log="$out/bench-overlap-w8a8-fp8-$prio-$sms.log"
        timed "overlap: 30B-A3B $L30 layers W8A8, fp8 KV, 32 x 16k decoding beside 16k chunks, decode priority $prio, decode SMs $sms" \
          "$log" "${run_env[@]}" $bin/bench/rotor_bench_overlap "$stage/configs/qwen3-30b-a3b/config.json" \
          --num-layers $L30 --quantization w8a8 --kv-cache-dtype fp8 --decode-priority $prio --decode-sms $sms "${ref[@]}"
        grep -E "SMs:|alone|both|whole|lost" "$log" | sed 's/^/   /'
        [ ${#ref[@]} -eq 0 ] && ref=($(sed -n 's/^OVERLAP.* decode_ms=\([0-9.]*\) prefill_ms=\([0-9.]*\) .*/--reference-decode-ms \1 --reference-prefill-ms \2/p' "$log"))
      done
      ;;
    early-short)
      # Issue 21 in a short call (~120 s): the early loads + fused quantisation against their
      # references, the decode step with them off and on at batch 1, 4, 32 for one TP-8 rank in
      # W8A8 and 30B-A3B in bf16, and last the fixtures through the model with them.
      early_tests
      for sw in off on; do
        for cfg in qwen3-235b-a22b-tp8-rank:0:w8a8 qwen3-30b-a3b:8:auto; do
          IFS=: read -r name layers q <<<"$cfg"
          log="$out/bench-early-$sw-$name-$q.log"
          timed "latency: $name, ${layers/#0/all} layers, ${q/auto/bf16}, batch 1,4,32 x 16k, early loads $sw" "$log" \
            "${run_env[@]}" ROTOR_EARLY_LOADS=$([ $sw = on ] && echo 1 || echo 0) \
            ROTOR_FUSED_QUANT=$([ $sw = on ] && echo 1 || echo 0) $bin/bench/rotor_bench_latency \
            "$stage/configs/$name/config.json" --num-layers "$layers" --quantization $q --batches 1,4,32 \
            --context 16384 --splits plan
          grep -E "^LATENCY" "$log" | sed 's/^/   /'
        done
      done
      early_model_tests
      ;;
    ncu)
      # Issues 14 and 21: each kernel of a decode step under Nsight Compute, the graph's nodes
      # profiled one at a time at the GPU's own clocks (duration, SM clock, DRAM bytes, grid,
      # registers, achieved occupancy): 8 layers of 30B-A3B in bf16 at batch 1 (a step is 2.5x
      # its roofline, every op 5-40 us), and 4 layers of the 235B-A22B TP-8 rank in W8A8 at
      # batch 32 (its experts at 53% of the copy ceiling). CSV in ncu-*.csv, a table per run
      # (scripts/ncu-summary.py) in ncu-*.md.
      # ROTOR_NCU_RUNS: other runs, each NAME:LAYERS:QUANT:BATCH:SPLITS.
      for run in ${ROTOR_NCU_RUNS:-qwen3-30b-a3b:8:auto:1:fixed qwen3-30b-a3b:8:auto:1:plan qwen3-235b-a22b-tp8-rank:4:w8a8:32:fixed}; do
        IFS=: read -r name layers q b splits <<<"$run"
        tag=$name-b$b-$splits
        timed "ncu: decode step kernels, $name, $layers layers, ${q/auto/bf16}, batch $b, 16k context, $splits splits" \
          "$out/ncu-$tag.log" "${run_env[@]}" "$ncu_bin" --graph-profiling node --clock-control none \
          --profile-from-start off --metrics "$ncu_metrics" --csv --print-units base --log-file "$out/ncu-$tag.csv" \
          $bin/bench/rotor_bench_latency "$stage/configs/$name/config.json" --num-layers "$layers" --quantization "$q" \
          --batches "$b" --splits "$splits" --context 16384 --steps 2 --warmup 1 &&
          python3 scripts/ncu-summary.py "$out/ncu-$tag.csv" | tee "$out/ncu-$tag.md" | head -n 24
      done
      ;;
    split-max)
      # Issue 20: e4m3 decode attention with 4096-token splits (ROTOR_DECODE_SPLIT_MAX=4096: 1 MB a
      # block, what a bf16 block streams) against 2048: under ncu at 32k context (the same waves
      # as 2048 at 16k), the bf16 kernel beside; then the 30B-A3B decode step at 32 x 16k with
      # either cache and either longest split.
      NCU_CONTEXT=32768 ncu_attn bf16-32k bf16
      NCU_CONTEXT=32768 ncu_attn fp8-32k fp8
      NCU_CONTEXT=32768 ncu_attn fp8-32k-4096 fp8 ROTOR_DECODE_SPLIT_MAX=4096
      for kv in bf16:0 bf16:4096 fp8:0 fp8:4096; do
        log="$out/bench-decode-$L30-${kv/:/-max}.log"
        timed "decode step 30B-A3B $L30 layers, batch 32, 16k, ${kv%:*} KV cache, ROTOR_DECODE_SPLIT_MAX=${kv#*:}" \
          "$log" "${run_env[@]}" ROTOR_DECODE_SPLIT_MAX=${kv#*:} $bin/bench/rotor_bench_decode \
          "$stage/configs/qwen3-30b-a3b/config.json" --num-layers $L30 --batch 32 --context 16384 --steps 20 \
          --graphs 1 --kv-cache-dtype $(kv_dtype ${kv%:*})
        grep -E "^RESULT|split plan" "$log" | sed 's/^/   /'
      done
      ;;
    i8-cols)
      # Issue 14's prefill: the int8 wgmma tiles with blocks of 256 W rows (one an SM) and of 128
      # (two an SM: one block's epilogue and first copies under the other's products), same run.
      # ROTOR_W8A8_WGMMA=1 is the default (dense GEMMs on 256, experts on 128), =256 and =128 put
      # both on one. test_cuda_w8a8 with 256 and 128 everywhere (the default ran in w8a8-tests);
      # the W8A8 kernels at 30B-A3B shapes; the 16k-token prefill per op (twice, interleaved) and
      # the peer configuration's 32 x 16k prefill, bf16 beside each.
      for cols in 256 128; do
        timed "test_cuda_w8a8, ROTOR_W8A8_WGMMA=$cols" "$out/test_cuda_w8a8-cols$cols.log" "${run_env[@]}" \
          ROTOR_W8A8_WGMMA=$cols $bin/tests/test_cuda_w8a8
        grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_w8a8-cols$cols.log" | sed 's/^/   /'
      done
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      for cols in 256 128; do
        timed "rotor_bench_kernels --w8a8-only, 30B-A3B shapes, ROTOR_W8A8_WGMMA=$cols" "$out/kernels-w8a8-$cols.log" \
          "${run_env[@]}" ROTOR_W8A8_WGMMA=$cols $bin/bench/rotor_bench_kernels "$cfg" --w8a8-only --batch 32 \
          --prefill-tokens 4096
        grep -E "gemm|moe_experts" "$out/kernels-w8a8-$cols.log" | sed 's/^/   /'
      done
      for rep in 1 2; do
        for run in auto:1 w8a8:1 w8a8:256; do
          q=${run%:*} cols=${run#*:}
          timed "prefill ops: 30B-A3B 8 layers, 16k tokens in one chunk, ${q/auto/bf16}, ROTOR_W8A8_WGMMA=$cols ($rep)" \
            "$out/prefill-ops-$q-$cols-$rep.log" "${run_env[@]}" ROTOR_W8A8_WGMMA=$cols $bin/bench/rotor_bench_latency \
            "$cfg" --num-layers 8 --quantization $q --context 16384 --prefill-chunk 16384 --steps 5 --warmup 1
          grep -E "^\| (attention|moe|gemm|linear)|^PREFILL" "$out/prefill-ops-$q-$cols-$rep.log" | sed 's/^/   /'
        done
      done
      for run in auto:1 w8a8:1 w8a8:256; do
        q=${run%:*} cols=${run#*:}
        timed "peer config: 8 layers, 32 x 16384 prefill + decode, ${q/auto/bf16}, ROTOR_W8A8_WGMMA=$cols" \
          "$out/bench-peer-8-$q-$cols.log" "${run_env[@]}" ROTOR_W8A8_WGMMA=$cols $bin/bench/rotor_bench_decode "$cfg" \
          --num-layers 8 --batch 32 --context 16384 --steps 8 --prefill --quantization $q
        grep -E "^RESULT|^prefill" "$out/bench-peer-8-$q-$cols.log" | sed 's/^/   /'
      done
      ;;
    ncu-prefill)
      # Issue 14's prefill under Nsight Compute: every kernel of one 16k-token prefill of 2 layers
      # of 30B-A3B (rotor_bench_latency --prefill-chunk, its timed repetition), bf16 and W8A8 with
      # the default int8 wgmma blocks and 256 W rows everywhere: duration, SM clock, DRAM bytes, grid,
      # registers, achieved occupancy (ncu-summary.py tables in ncu-prefill-*.md); then the int8
      # gate+up and down tiles' warp stalls and occupancy (Nsight's sections, text).
      cfg=$stage/configs/qwen3-30b-a3b/config.json
      for run in auto:1 w8a8:1 w8a8:256; do
        q=${run%:*} cols=${run#*:}
        ncu_prefill prefill-${run/:/-} $q "ROTOR_W8A8_WGMMA=$cols" ROTOR_W8A8_WGMMA=$cols
      done
      timed "ncu: int8 wgmma tiles' stalls, 16k-token prefill (default blocks)" "$out/ncu-i8-stalls.log" \
        "${run_env[@]}" "$ncu_bin" --clock-control none --profile-from-start off \
        -k regex:wgmma_gemm_kernel --launch-count 4 --section SpeedOfLight --section Occupancy \
        --metrics 'regex:smsp__average_warps_issue_stalled_[a-z_]+_per_issue_active\.ratio' \
        $bin/bench/rotor_bench_latency "$cfg" --num-layers 1 --quantization w8a8 --context 16384 \
        --prefill-chunk 16384 --steps 1 --warmup 1
      grep -E "wgmma_gemm_kernel|Duration|Throughput|Achieved Occupancy|stalled_[a-z_]+_per_issue_active.ratio +[^ ]+ +([1-9]|0\.[1-9])" \
        "$out/ncu-i8-stalls.log" | head -n 80 | sed 's/^/   /'
      ;;
    fused-prefill)
      # Issue 14's prefill: the experts' x quantised in align's launch against its own launch
      # (ROTOR_FUSED_ALIGN=0), bf16 beside them.
      prefill_switch_ab fused ROTOR_FUSED_ALIGN
      ;;
    ncu-source)
      # Issue 14: where the W8A8 experts' GEMMs wait, instruction by instruction (Nsight
      # Compute's warp sampling): a 16k-token prefill's resident down and gate+up tiles (30B-A3B),
      # the gate+up in 256-column blocks (one an SM) beside,
      # and the TP-8 rank's short-K down tiles at batch 32 (its decode step's experts at 70%).
      prefill=(--num-layers 2 --quantization w8a8 --context 16384 --prefill-chunk 16384 --steps 1 --warmup 1)
      ncu_source down 'down_resident_kernel' qwen3-30b-a3b "${prefill[@]}"
      ncu_source gateup 'wgmma_gemm_kernel<signed char, [^,]*1, ' qwen3-30b-a3b "${prefill[@]}"
      ncu_env=(ROTOR_W8A8_WGMMA=256)
      ncu_source gateup256 'wgmma_gemm_kernel<signed char, [^,]*1, ' qwen3-30b-a3b "${prefill[@]}"
      ncu_env=()
      ncu_skip=8  # past the warm-up step's 4 layers: a timed batch-32 step's launch
      ncu_source rank-down 'mma_gemm_kernel<signed char, [^,]*16, [^,]*64, [^,]*1, [^,]*4, [^,]*2, [^,]*2>' qwen3-235b-a22b-tp8-rank \
        --num-layers 4 --quantization w8a8 --batches 32 --context 16384 --steps 2 --warmup 1
      ncu_skip=1
      ;;
    resident-down)
      # Issue 14's prefill: the W8A8 experts' down GEMM with each tile's h resident (the default,
      # wgmma_down_i8.cuh) against the two-an-SM wgmma blocks (ROTOR_RESIDENT_DOWN=0), bf16
      # beside; then every kernel of a 16k prefill of 2 layers under Nsight, both ways.
      prefill_switch_ab resident ROTOR_RESIDENT_DOWN
      for f in 1 0; do
        ncu_prefill resident-$f w8a8 "ROTOR_RESIDENT_DOWN=$f" ROTOR_RESIDENT_DOWN=$f
      done
      ;;
    moe-tests)
      # The experts alone (a short call after a change to the expert kernels): bf16 and W8A8.
      moe_tests
      ;;
    ops-tests)
      # The CUDA ops against the CPU alone (a short call after a change to a kernel), no fixtures.
      timed "test_cuda_ops" "$out/test_cuda_ops-only.log" "${run_env[@]}" $bin/tests/test_cuda_ops
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_ops-only.log" | sed 's/^/   /'
      ;;
    w8a8-tests)
      # The W8A8 ops against the CPU alone (a short call after a change to the int8 kernels).
      timed "test_cuda_w8a8" "$out/test_cuda_w8a8-only.log" "${run_env[@]}" $bin/tests/test_cuda_w8a8
      grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$out/test_cuda_w8a8-only.log" | sed 's/^/   /'
      ;;
    prefill-ops)
      # Issue 14's prefill >= 1.25x: where a 16k-token prefill's time goes, per op, in bf16 and
      # W8A8 (8 layers of 30B-A3B, one 16,384-token chunk, rotor_bench_latency --prefill-chunk),
      # then the W8A8 kernels alone at 30B-A3B shapes (rotor_bench_kernels --w8a8-only: int8
      # GEMMs at 2,048 and 16,384 rows on wgmma and mma.sync, the experts at prefill sizes).
      for q in auto w8a8; do
        timed "prefill ops: 30B-A3B 8 layers, 16k tokens in one chunk, ${q/auto/bf16}" "$out/prefill-ops-$q.log" \
          "${run_env[@]}" $bin/bench/rotor_bench_latency "$stage/configs/qwen3-30b-a3b/config.json" --num-layers 8 \
          --quantization $q --context 16384 --prefill-chunk 16384 --steps 3 --warmup 1
        grep -E "^\| |^PREFILL" "$out/prefill-ops-$q.log" | head -n 20 | sed 's/^/   /'
      done
      timed "rotor_bench_kernels --w8a8-only, 30B-A3B shapes" "$out/kernels-w8a8.log" "${run_env[@]}" \
        $bin/bench/rotor_bench_kernels "$stage/configs/qwen3-30b-a3b/config.json" --w8a8-only --batch 32 \
        --prefill-tokens 4096
      grep -E "gemm|moe_experts" "$out/kernels-w8a8.log" | sed 's/^/   /'
      ;;
    ncu-attn)
      # Issue 20: decode attention under Nsight Compute with a bf16 and an e4m3 cache.
      ncu_attn bf16 bf16
      ncu_attn fp8 fp8
      ;;
    run-sh)
      # Issue 23: scripts/run.sh on a GPU host builds the CUDA preset (build/cuda) and serves the
      # embedded default model on the GPU. This machine has no apt: ROTOR_NO_INSTALL=1 skips the
      # install, and CMake, pkg-config and the loader find the unpacked .debs. Then one chat
      # request through curl (with the system's libraries) and SIGTERM.
      port=18790
      (export ROTOR_NO_INSTALL=1 ROTOR_SHARED="$stage" CMAKE_PREFIX_PATH="$deps/usr" LD_LIBRARY_PATH="${libs:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
       exec scripts/run.sh --port $port) >"$out/run-sh.log" 2>&1 &
      server=$!
      t0=$SECONDS
      until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
        if ! kill -0 $server 2>/dev/null || [ $((SECONDS - t0)) -gt "${STEP_TIMEOUT:-900}" ]; then break; fi
        sleep 2
      done
      model=$(curl -s "http://127.0.0.1:$port/v1/models" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])')
      reply=$(curl -s "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
        -d "{\"model\": \"$model\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}], \"max_tokens\": 8}")
      kill -TERM $server 2>/dev/null; wait $server; status=$?
      if grep -q "serving with build/cuda" "$out/run-sh.log" && grep -q "(cuda:0, max_model_len" "$out/run-sh.log" &&
         [[ $reply == *'"chat.completion"'* ]] && [ $status = 0 ]; then
        note "scripts/run.sh: built build/cuda and served on the GPU ($((SECONDS - t0)) s; exit status $status after SIGTERM)"
      else
        note "scripts/run.sh: FAILED (exit status $status), see run-sh.log"; tail -n 30 "$out/run-sh.log"
      fi
      echo "   $reply" | cut -c1-300
      ;;
    e2e | e2e-tp)
      # The server's pytest end-to-end suite against a GPU server (tiny fixture, --device auto
      # picks the GPU); e2e-tp against `rotor serve --tensor-parallel-size 2`, both ranks on GPU 0.
      # Python packages the image lacks travel as wheels in .whl (README of the device tool).
      # Greedy-vs-transformers is a CPU-exactness test (24 tokens of a random model in bf16 can
      # diverge): it is deselected here. One pytest per file, each with its failures' messages
      # (-rf --tb=short), so a step cut by STEP_TIMEOUT keeps those of the files it finished.
      if [ -d "$root/.whl" ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$root"/.whl/*.whl >"$out/pip.log" 2>&1
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
      fi
      name="pytest tests/e2e against a GPU server"
      tp_env=()
      if [ "$step" = e2e-tp ]; then
        name+=", TP 2 on one GPU"
        tp_env=(ROTOR_SAME_DEVICE_RANKS=1 "ROTOR_E2E_ARGS=--tensor-parallel-size 2")
      fi
      # shellcheck disable=SC2086  # the file list splits on spaces
      timed "$name" "$out/$step.log" "${run_env[@]}" ROTOR_SHARED="$stage" "${tp_env[@]}" \
        ROTOR_BINARY="$root/$bin/apps/rotor" bash -c 'rc=0
          for f in "$@"; do
            echo "== $f"
            python3 -m pytest -q -rf --tb=short -p no:cacheprovider "$f" -k "not greedy_matches_transformers" || rc=1
          done
          exit $rc' _ ${ROTOR_E2E_TESTS:-tests/e2e/test_*.py}
      grep -E "^FAILED|passed|failed" "$out/$step.log" | grep -v "^== " | sed 's/^/   /' | tail -n 40
      ;;
    serve)
      # The seed workload on Qwen3-30B-A3B (dummy weights): rotor serve with the seed's flags,
      # rotor bench serve with 16,384-token prompts, 32 in flight; once per run in
      # ROTOR_SERVE_RUNS, each a server of its own. A run is "bf16" or words joined by "+":
      # w8a8 (dummy W8A8 weights, issue 14), fp8kv (an FP8 KV cache, issue 20), schema (the
      # same workload again with every request under a JSON schema, issue 24), lane (prompts in
      # the prefill lane, the decode lane on ROTOR_LANE_SMS SMs, default 96, and in decode steps
      # while 2 wait: docs/prefill-lane.md), lane0 (the same with every prompt in the lane).
      port=18765
      out_len=${ROTOR_BENCH_OUTPUT_LEN:-2048}
      # More prompts than the 32 in flight: a steady state where prompts arrive while others
      # decode (the prefill lane's case), after the seed's burst of 32.
      num_prompts=${ROTOR_BENCH_NUM_PROMPTS:-32}
      for run in ${ROTOR_SERVE_RUNS:-bf16}; do
        for word in ${run//+/ }; do
          case $word in bf16|w8a8|fp8kv|schema|lane|lane0) ;; *) note "serve: unknown run word '$word' in '$run' (bf16, w8a8, fp8kv, schema, lane, lane0 joined by +): skipped"; continue 2 ;; esac
        done
        flags=()
        [[ +$run+ == *+w8a8+* ]] && flags+=(--quantization ascend)
        [[ +$run+ == *+fp8kv+* ]] && flags+=(--kv-cache-dtype fp8)
        [[ +$run+ == *+lane+* ]] && flags+=(--prefill-lane-sms "${ROTOR_LANE_SMS:-96}")
        [[ +$run+ == *+lane0+* ]] && flags+=(--prefill-lane-sms "${ROTOR_LANE_SMS:-96}" --prefill-lane-backlog 0)
        "${run_env[@]}" $bin/apps/rotor serve "$stage/configs/qwen3-30b-a3b" --load-format dummy "${flags[@]}" \
          --served-model-name qwen3-30b-a3b-dummy --host 127.0.0.1 --port $port --async-scheduling \
          --max-num-seqs 64 --max-model-len $((16384 + out_len + 64)) --max-num-batched-tokens 16384 \
          --gpu-memory-utilization 0.9 --compilation-config '{"cudagraph_mode": "FULL_DECODE_ONLY"}' \
          >"$out/serve-$run.log" 2>&1 &
        server=$!
        t0=$SECONDS
        until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
          if ! kill -0 $server 2>/dev/null || [ $((SECONDS - t0)) -gt 300 ]; then
            note "rotor serve 30B-A3B $run: FAILED to start, see serve-$run.log"; tail -n 30 "$out/serve-$run.log"; break
          fi
          sleep 1
        done
        note "rotor serve 30B-A3B dummy $run: healthy after $((SECONDS - t0)) s"
        bench=("${run_env[@]}" $bin/apps/rotor bench serve --base-url "http://127.0.0.1:$port"
               --model qwen3-30b-a3b-dummy --tokenizer "$stage/tokenizers/qwen3" --endpoint completions
               --dataset random --random-input-len 16384 --random-output-len "$out_len" --num-prompts "$num_prompts"
               --max-concurrency 32 --ignore-eos)
        timed "bench serve 30B-A3B $run: $num_prompts x 16384 in / $out_len out, 32 in flight" "$out/bench-serve-$run.log" \
          "${bench[@]}" --result-json "$out/bench-serve-$run.json" --report "$out/bench-serve-$run.html"
        tail -n 40 "$out/bench-serve-$run.log"
        if [[ +$run+ == *+schema+* ]]; then
          # A list of strings that never completes, so every step masks (target >= 90% of the
          # run above), on other prompts (--seed) so that none rides the prefix cache it left.
          schema='{"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}}}, "required": ["items"]}'
          timed "bench serve 30B-A3B $run under a JSON schema: 32 x 16384 in / $out_len out" \
            "$out/bench-serve-$run-schema.log" "${bench[@]}" --seed 2 --result-json "$out/bench-serve-$run-schema.json" \
            --extra-body "{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"list\", \"schema\": $schema}}}"
          tail -n 20 "$out/bench-serve-$run-schema.log"
        fi
        curl -s "http://127.0.0.1:$port/metrics" >"$out/serve-$run-metrics.txt"
        kill -TERM $server; wait $server; note "rotor serve $run exit status after SIGTERM: $?"
      done
      ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done

echo
echo "==================== gpu-check summary (commit ${ROTOR_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}) ===================="
printf '%s\n' "${summary[@]}"
grep -H "^RESULT\|^LATENCY\|^OVERLAP" "$out"/bench-*.log 2>/dev/null | sed "s|^.*/bench-\(.*\)\.log:|\1: |"
! printf '%s\n' "${summary[@]}" | grep -q FAILED
