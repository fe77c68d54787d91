"""`rotor serve --kv-cache-dtype fp8` (and vLLM's fp8_e4m3, with --calculate-kv-scales) on the
CPU backend: the same KV-cache bytes hold twice the blocks of a bf16 cache (start-up log and
/metrics), and greedy completions of the tiny fixture agree with the bf16 cache's."""
import os
import re
import shlex

import requests

from conftest import TINY_SERVE_ARGS
from rotor_server import RotorServer

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time", "1, 2, 3, 4,",
           "The quick brown fox", "Hello, my name is", "In 1492, Columbus", "SELECT * FROM"]
MAX_TOKENS = 8


def serve_and_complete(binary, model, *flags):
    s = RotorServer(binary, model, *TINY_SERVE_ARGS, *flags)
    try:
        outs = []
        for p in PROMPTS:
            r = requests.post(s.url + "/v1/completions", timeout=60,
                              json={"model": "tiny", "prompt": p, "max_tokens": MAX_TOKENS, "temperature": 0,
                                    "ignore_eos": True, "logprobs": 0})
            assert r.status_code == 200, r.text
            outs.append(r.json()["choices"][0]["logprobs"]["tokens"])
        info = [k for k in s.metrics() if k.startswith("vllm:cache_config_info")]
    finally:
        assert s.stop() == 0
    assert len(info) == 1, info
    return outs, info[0], s.output


def blocks_in_log(output):
    m = re.search(r"KV cache: (\d+) blocks of 16 tokens \((\w+),", output)
    assert m, output
    return int(m.group(1)), m.group(2)


def bf16_blocks():
    """64 MiB / (4 layers * K,V * KV heads per rank * 16 * 128 * 2 bytes): the tiny fixture's 2 KV
    heads, split over the ranks of ROTOR_E2E_ARGS' tensor parallelism (one each past 2 ranks)."""
    args = shlex.split(os.environ.get("ROTOR_E2E_ARGS", ""))
    tp = 1
    for i, a in enumerate(args[:-1]):
        if a in ("--tensor-parallel-size", "-tp"):
            tp = int(args[i + 1])
    return 64 * 2**20 // (4 * 2 * max(1, 2 // tp) * 16 * 128 * 2)


def test_fp8_kv_cache_doubles_blocks_and_agrees_with_bf16(rotor_binary, tiny_model_dir):
    bf16, bf16_info, bf16_log = serve_and_complete(rotor_binary, tiny_model_dir, "--kv-cache-dtype", "bfloat16")
    blocks = bf16_blocks()
    assert blocks_in_log(bf16_log) == (blocks, "BF16")
    assert 'cache_dtype="bfloat16"' in bf16_info and f'num_gpu_blocks="{blocks}"' in bf16_info
    for flags, name, scales in [(["--kv-cache-dtype", "fp8"], "fp8", "of 1.0 (the checkpoint has none)"),
                                (["--kv-cache-dtype", "fp8_e4m3", "--calculate-kv-scales"], "fp8_e4m3",
                                 "computed from the first prefill")]:
        fp8, info, log = serve_and_complete(rotor_binary, tiny_model_dir, *flags)
        assert blocks_in_log(log) == (2 * blocks, "F8_E4M3")
        assert f"per-layer K and V scales {scales}" in log
        assert f'cache_dtype="{name}"' in info and f'num_gpu_blocks="{2 * blocks}"' in info
        assert f'calculate_kv_scales="{"True" if "--calculate-kv-scales" in flags else "False"}"' in info
        # Greedy tokens up to the first that differs, per prompt. The fixture's random weights
        # give nearly flat logits over 151936 tokens, so e4m3's rounding (about 5% on the
        # logits, tests/model/test_fp8_kv.cpp) can flip a token where a bf16 cache flips none
        # (the CPU's f32 cache agrees with it on all 64). Measured 2026-12-05: on the CPU 44 of
        # 64 (fp8, 5 of 8 prompts whole) and 46 (computed scales); on a GPU (H100, 2 ranks on
        # one GPU, whose bf16 arithmetic adds its own flips) 42 and 38. Bound: 32, half the
        # tokens; a broken e4m3 path agrees on a few at most.
        same = 0
        for a, b in zip(bf16, fp8):
            k = 0
            while k < MAX_TOKENS and a[k] == b[k]:
                k += 1
            same += k
        print(f"{name}: greedy tokens agreeing with the bf16 cache: {same} of {len(PROMPTS) * MAX_TOKENS}")
        assert same >= 32
