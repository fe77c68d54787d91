"""`rotor serve` command line: the seed's exact command (as a shell would split it) parses and
resolves under --dry-run without weights or GPUs; features rotor lacks fail with one clear
line; bad flags fail without a crash."""
import json
import shlex
import subprocess

SEED_COMMAND = r"""rotor serve MODEL_DIR --served-model-name "Qwen3-235B-A22B-Instruct-2507--w8a8-QuaRot-vllm-ZJ" \
  --host 127.0.0.1 --async-scheduling --tensor-parallel-size 8 --data-parallel-size 1 \
  --max-num-seqs 200 --max-model-len 36384 --max-num-batched-tokens 16384 \
  --gpu-memory-utilization 0.9 --quantization ascend --trust-remote-code \
  --compilation-config '{"cudagraph_mode": "FULL_DECODE_ONLY"}' \
  --additional-config '{"ascend_scheduler_config":{"enabled":false},"enable_cpu_binding":true, "weight_prefetch_config":{"enabled":true,"prefetch_ratio":{"attn":{"qkv":1.0,"o":1.0},"moe":{"gate_up":0.7}}}}'"""


def seed_argv(binary, model_dir, extra=()):
    argv = shlex.split(SEED_COMMAND.replace("\\\n", " "))
    assert argv[0] == "rotor"
    argv[0] = binary
    argv[argv.index("MODEL_DIR")] = str(model_dir)
    return argv + list(extra)


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_seed_command_line_dry_run(rotor_binary, shared):
    model_dir = shared / "configs" / "qwen3-235b-a22b-instruct-2507"
    r = run(seed_argv(rotor_binary, model_dir, ["--dry-run"]))
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["served_model_names"] == ["Qwen3-235B-A22B-Instruct-2507--w8a8-QuaRot-vllm-ZJ"]
    assert c["host"] == "127.0.0.1" and c["port"] == 8000
    assert c["parallel"] == {"tensor_parallel_size": 8, "data_parallel_size": 1, "pipeline_parallel_size": 1}
    e = c["engine"]
    assert (e["max_num_seqs"], e["max_model_len"], e["max_num_batched_tokens"]) == (200, 36384, 16384)
    assert e["async_scheduling"] is True and e["gpu_memory_utilization"] == 0.9
    assert c["load"]["quantization"] == "ascend" and c["load"]["trust_remote_code"] is True
    assert c["compilation_config"]["cudagraph_mode"] == "FULL_DECODE_ONLY"
    assert c["additional_config"]["enable_cpu_binding"] is True
    assert c["additional_config"]["given"]["weight_prefetch_config"]["prefetch_ratio"]["moe"]["gate_up"] == 0.7
    assert any("--tensor-parallel-size 8" in u for u in c["unsupported"])


def test_seed_command_line_without_dry_run_fails_clearly(rotor_binary, shared):
    model_dir = shared / "configs" / "qwen3-235b-a22b-instruct-2507"
    r = run(seed_argv(rotor_binary, model_dir))
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "--tensor-parallel-size 8" in lines[0], r.stderr


def test_bad_flags_fail_with_a_message(rotor_binary):
    for extra, part in [(["--max-num-seqs", "0"], "--max-num-seqs"),
                        (["--compilation-config", "{oops"], "--compilation-config"),
                        (["--data-parallel-size", "2"], "--data-parallel-size 2"),
                        (["--no-such-flag"], "--no-such-flag")]:
        r = run([rotor_binary, "serve", *extra])
        assert r.returncode != 0 and part in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr and r.returncode < 128
