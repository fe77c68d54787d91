"""`rotor serve` command line: the seed's exact command (as a shell would split it) parses and
resolves under --dry-run without weights or GPUs; features rotor lacks fail with one clear
line; bad flags fail without a crash."""
import json
import os
import re
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
    assert c["parallel"] == {"tensor_parallel_size": 8, "enable_expert_parallel": False, "pipeline_parallel_size": 1,
                             "distributed_executor_backend": "mp", "nnodes": 1, "node_rank": 0,
                             "data_parallel_size": 1}
    e = c["engine"]
    assert (e["max_num_seqs"], e["max_model_len"], e["max_num_batched_tokens"]) == (200, 36384, 16384)
    assert e["async_scheduling"] is True and e["gpu_memory_utilization"] == 0.9
    assert c["load"]["quantization"] == "ascend" and c["load"]["trust_remote_code"] is True
    assert c["compilation_config"]["cudagraph_mode"] == "FULL_DECODE_ONLY"
    assert c["additional_config"]["enable_cpu_binding"] is True
    assert c["additional_config"]["given"]["weight_prefetch_config"]["prefetch_ratio"]["moe"]["gate_up"] == 0.7
    assert c["unsupported"] == []


def test_seed_command_line_without_dry_run_fails_clearly(rotor_binary, shared):
    # A directory with the config alone: the W8A8 checkpoint the flags ask for is not there.
    model_dir = shared / "configs" / "qwen3-235b-a22b-instruct-2507"
    r = run(seed_argv(rotor_binary, model_dir))
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    # On a machine with fewer than 8 GPUs the GPU count is found first; either is one line.
    assert len(lines) == 1, r.stderr
    assert "quant_model_description.json" in lines[0] or "needs 8 GPUs" in lines[0], r.stderr
    assert not re.match(r"error: rank \d+ of", lines[0]), r.stderr  # found before the ranks start


def test_bad_flags_fail_with_a_message(rotor_binary):
    for extra, part in [(["--max-num-seqs", "0"], "--max-num-seqs"),
                        (["--compilation-config", "{oops"], "--compilation-config"),
                        (["--data-parallel-size", "2"], "--data-parallel-size 2"),
                        (["--no-such-flag"], "--no-such-flag")]:
        r = run([rotor_binary, "serve", *extra])
        assert r.returncode != 0 and part in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr and r.returncode < 128


# Command lines for this model family as vLLM's and Qwen's docs give them (vLLM's recipes:
# `vllm serve MODEL --tensor-parallel-size 8 --max-model-len 262144 --reasoning-parser qwen3`,
# and with `--speculative-config '{"method": "mtp", ...}'`; Qwen's guide to contexts past 32k
# with YaRN through --rope-scaling (vLLM < 0.10) or --hf-overrides). The model id goes through a
# Hugging Face cache holding the real config.json, offline.
DOC_COMMANDS = {
    "recipe": r"""vllm serve Qwen/Qwen3-235B-A22B-Instruct-2507 --tensor-parallel-size 8 --max-model-len 262144 \
        --reasoning-parser qwen3""",
    "recipe_mtp": r"""vllm serve Qwen/Qwen3-235B-A22B-Instruct-2507 --tensor-parallel-size 8 --max-model-len 262144 \
        --reasoning-parser qwen3 --speculative-config '{"method": "mtp", "num_speculative_tokens": 2}'""",
    "yarn_rope_scaling": r"""vllm serve Qwen/Qwen3-30B-A3B --rope-scaling \
        '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}' --max-model-len 131072""",
    "yarn_hf_overrides": r"""vllm serve Qwen/Qwen3-30B-A3B --hf-overrides \
        '{"rope_scaling": {"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}}' \
        --max-model-len 128k -tp 1 --enable-prefix-caching""",
}


def doc_argv(binary, name, extra=()):
    argv = shlex.split(DOC_COMMANDS[name].replace("\\\n", " "))
    assert argv[:2] == ["vllm", "serve"]
    return [binary, "serve", *argv[2:], *extra]


def hf_cache(tmp_path, shared, repo, config_dir):
    """A Hugging Face cache holding `repo`'s config.json at a commit that refs/main names."""
    commit = "f" * 40
    d = tmp_path / ("models--" + repo.replace("/", "--"))
    (d / "refs").mkdir(parents=True)
    (d / "refs" / "main").write_text(commit)
    snap = d / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_bytes((shared / "configs" / config_dir / "config.json").read_bytes())
    return str(tmp_path)


def run_env(argv, **env):
    # Stand-alone CLI runs: no Hugging Face settings of the caller, and ranks placed as on a
    # plain machine (not the TP-on-one-GPU suite's ROTOR_SAME_DEVICE_RANKS, which would run a
    # TP-8 recipe's eight ranks on one GPU instead of refusing it).
    e = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "ROTOR_SAME_DEVICE_RANKS"}
    e.update(env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=e)


def test_vllm_doc_command_lines(rotor_binary, shared, tmp_path):
    hf_cache(tmp_path, shared, "Qwen/Qwen3-235B-A22B-Instruct-2507", "qwen3-235b-a22b-instruct-2507")
    hf_cache(tmp_path, shared, "Qwen/Qwen3-30B-A3B", "qwen3-30b-a3b")
    env = {"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}

    # The recipe resolves (dry run: no weights needed); serving it on GPUs this machine lacks
    # fails with one line before anything is loaded.
    r = run_env(doc_argv(rotor_binary, "recipe", ["--dry-run", "--load-format", "dummy"]), **env)
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["engine"]["max_model_len"] == 262144 and c["api"]["reasoning_parser"] == "qwen3"
    assert c["served_model_names"] == ["Qwen/Qwen3-235B-A22B-Instruct-2507"]
    assert c["parallel"]["tensor_parallel_size"] == 8 and c["unsupported"] == []
    r = run_env(doc_argv(rotor_binary, "recipe", ["--load-format", "dummy", "--device", "cuda"]), **env)
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert r.returncode == 1 and len(errors) == 1, r.stderr
    assert "tensor parallel 8 needs 8 GPUs" in errors[0] or "no GPU" in errors[0], r.stderr

    r = run_env(doc_argv(rotor_binary, "recipe_mtp", ["--dry-run"]), **env)
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert r.returncode == 1 and errors == [l for l in r.stderr.splitlines() if l.strip()], r.stderr
    assert len(errors) == 1 and "--speculative-config" in errors[0] and "speculative decoding" in errors[0]

    # YaRN past 32k: the context becomes 32768 x 4 = 131072, as vLLM derives it.
    for name, want in (("yarn_rope_scaling", 131072), ("yarn_hf_overrides", 128000)):
        r = run_env(doc_argv(rotor_binary, name, ["--dry-run", "--load-format", "dummy"]), **env)
        assert r.returncode == 0, (name, r.stderr)
        c = json.loads(r.stdout)
        assert c["engine"]["model_max_position_embeddings"] == 131072, name
        assert c["engine"]["max_model_len"] == want, name
        assert c["load"]["hf_overrides"]["rope_scaling"]["rope_type"] == "yarn", name
        assert c["unsupported"] == [], name


def test_vllm_flags_rotor_lacks_name_themselves(rotor_binary):
    for extra, part in [(["--swap-space", "4"], "--swap-space"), (["--enable-eplb"], "--enable-eplb"),
                        (["-pp", "2"], "--pipeline-parallel-size 2"), (["--nnodes", "2"], "--nnodes 2"),
                        (["--distributed-executor-backend", "ray"], "ray"),
                        (["--enable-lora", "--max-loras", "4"], "--enable-lora"),
                        (["--kv-cache-dtype", "fp8_e5m2"], "--kv-cache-dtype fp8_e5m2"),
                        (["--tokenizer-mode", "mistral"], "mistral"),
                        (["--ssl-keyfile", "/etc/hostname"], "--ssl-certfile go together")]:
        r = run([rotor_binary, "serve", *extra])
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 1 and len(lines) == 1 and part in lines[0], (extra, r.stderr)
