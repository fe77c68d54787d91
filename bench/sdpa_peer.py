# bench/sdpa_peer.py — peer timing for the prefill-attention row of rotor_bench_kernels: PyTorch
# SDPA (flash, cuDNN, efficient backends) on a fresh 16k causal prompt, 32 q heads, 4 kv heads,
# head_dim 128, bf16, CUDA events, median of 10; TFLOP/s counted as rotor counts them.
# Run on the GPU machine: python3 bench/sdpa_peer.py
import torch
from torch.nn.attention import sdpa_kernel, SDPBackend
P, Hq, Hkv, hd = 16384, 32, 4, 128
q = torch.randn(1, Hq, P, hd, device="cuda", dtype=torch.bfloat16)
k = torch.randn(1, Hkv, P, hd, device="cuda", dtype=torch.bfloat16)
v = torch.randn(1, Hkv, P, hd, device="cuda", dtype=torch.bfloat16)
kk = k.repeat_interleave(Hq // Hkv, dim=1); vv = v.repeat_interleave(Hq // Hkv, dim=1)
flops = 4.0 * P * (P + 1) / 2 * Hq * hd
print("torch", torch.__version__)
for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)]:
    try:
        with sdpa_kernel(be):
            f = lambda: torch.nn.functional.scaled_dot_product_attention(q, kk, vv, is_causal=True)
            for _ in range(3): f()
            torch.cuda.synchronize()
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            ts = []
            for _ in range(10):
                a.record(); f(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
            ms = sorted(ts)[len(ts) // 2]
            print(f"SDPA {name}: 16k fresh causal {ms*1e3:.0f} us {flops/ms/1e9:.0f} TFLOP/s")
    except Exception as e:
        print(f"SDPA {name}: unavailable ({str(e).splitlines()[0][:120]})")
