"""Shared pytest fixtures for the end-to-end tests: the rotor binary under test, the
shared folder (ROTOR_SHARED, else ../shared beside the checkout), and `rotor serve` running
the tiny fixture model (one server for the whole session)."""
import os
import pathlib
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from rotor_server import RotorServer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def rotor_binary():
    path = pathlib.Path(os.environ.get("ROTOR_BINARY", ROOT / "build/cpu/apps/rotor"))
    if not path.exists():
        pytest.fail(f"rotor binary not found at {path} (build first or set ROTOR_BINARY)")
    return str(path)


def shared_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("ROTOR_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> pathlib.Path:
    return shared_dir()


@pytest.fixture(scope="session")
def tiny_model_dir():
    """The tiny Qwen3-MoE fixture (its tokenizer is the real Qwen3 one)."""
    fixtures = os.environ.get("ROTOR_FIXTURES") or shared_dir() / "fixtures"
    path = pathlib.Path(fixtures) / "tiny-qwen3-moe"
    if not (path / "tokenizer.json").exists():
        pytest.fail(f"fixture not found at {path} (set ROTOR_SHARED or ROTOR_FIXTURES)")
    return str(path)


TINY_SERVE_ARGS = ["--served-model-name", "tiny", "--max-model-len", "512", "--max-num-seqs", "80",
                   "--max-num-batched-tokens", "1024", "--kv-cache-memory-bytes", str(64 << 20)]
API_KEY = "sk-rotor-test"


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir) -> pathlib.Path:
    return pathlib.Path(tiny_model_dir)


@pytest.fixture(scope="session")
def server(rotor_binary, tiny_model):
    """`rotor serve` on the tiny fixture, with an API key; stopped with SIGTERM at the end."""
    s = RotorServer(rotor_binary, str(tiny_model), *TINY_SERVE_ARGS, api_key=API_KEY)
    yield s
    assert s.stop() == 0, s.output
