"""Shared pytest fixtures for the end-to-end tests: the rotor binary under test and the
shared folder (ROTOR_SHARED, else ../shared beside the checkout)."""
import os
import pathlib

import pytest

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
