"""scripts/run.sh passes its arguments to `rotor serve`, replacing its defaults instead of
repeating them (`scripts/run.sh --port 9000` used to fail with "--port: At Most 1 required but
received 2"). Runs the script itself (install + build are no-ops after scripts/test.sh's) with
--dry-run; skipped where a GPU is visible, since there the script builds the CUDA preset."""
import json
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def gpu_visible():
    if not shutil.which("nvidia-smi"):
        return False
    r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return r.returncode == 0 and "GPU" in r.stdout


@pytest.mark.skipif(gpu_visible(), reason="with a GPU, run.sh builds the CUDA preset (minutes)")
def test_run_sh_arguments_replace_defaults():
    if not (ROOT / "build/cpu/apps/rotor").exists():
        pytest.skip("build/cpu is not built (run.sh would build it from scratch)")
    run = lambda *a: subprocess.run(["bash", str(ROOT / "scripts/run.sh"), *a, "--dry-run"], capture_output=True,
                                    text=True, timeout=900, cwd=ROOT)
    r = run("--port", "9000")
    assert r.returncode == 0, r.stderr[-2000:]
    c = json.loads(r.stdout)
    assert (c["host"], c["port"]) == ("127.0.0.1", 9000)
    r = run("--host=0.0.0.0")
    assert r.returncode == 0, r.stderr[-2000:]
    c = json.loads(r.stdout)
    assert (c["host"], c["port"]) == ("0.0.0.0", 8000)
    assert "serving with build/cpu" in r.stderr
