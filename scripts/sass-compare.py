#!/usr/bin/env python3
# scripts/sass-compare.py — does a kernel change leave other kernels' machine code alone?
# Compiles each given .cu file at REV and in the working tree (nvcc, sm_90a, the CUDA preset's
# optimisation flags) and says, for every kernel of REV, whether the working tree has a kernel
# with the same SASS. Addresses, encodings, mangled names and constant-bank parameter offsets
# (c[0x0][...]: they move when an argument struct gains a field) are ignored. Needs no GPU.
#   scripts/sass-compare.py REV src/kernels/cuda/attention_decode.cu [more .cu files]
# cuobjdump and nvdisasm come from the CUDA toolkit or from PyPI:
#   pip install --target /tmp/cutools nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm
#   PATH=/tmp/cutools/nvidia/cu13/bin:$PATH scripts/sass-compare.py ...
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

NVCC = os.environ.get("NVCC", "/usr/local/cuda/bin/nvcc")
FLAGS = ["-O3", "-DNDEBUG", "-gencode=arch=compute_90a,code=sm_90a", "--expt-relaxed-constexpr", "-std=c++20",
         "-lineinfo", "-x", "cu", "-cubin"]


def sass(root, cu, out_dir):
    cubin = os.path.join(out_dir, os.path.basename(cu) + ".cubin")
    subprocess.run([NVCC, f"-I{root}/src", f"-I{root}", *FLAGS, os.path.join(root, cu), "-o", cubin], check=True)
    return subprocess.run(["cuobjdump", "-sass", cubin], check=True, capture_output=True, text=True).stdout


def kernels(text):
    """{demangled kernel name: normalized instruction lines}"""
    out, name = {}, None
    for line in text.splitlines():
        m = re.search(r"Function : (\S+)", line)
        if m:
            name = subprocess.run(["c++filt", m.group(1)], capture_output=True, text=True).stdout.strip()
            out[name] = []
            continue
        if name is None:
            continue
        line = re.sub(r"/\*[0-9a-f]{4,}\*/|/\* 0x[0-9a-f]+ \*/", "", line)
        line = re.sub(r"_Z\w+", "FN", line)
        line = re.sub(r"c\[0x0\]\[0x[0-9a-f]+\]", "c[P]", line).strip()
        if line and not line.startswith(".") and line not in ("{", "}"):
            out[name].append(line)
    return out


def digest(lines):
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def main(rev, files):
    for tool in ("cuobjdump", "nvdisasm"):
        if shutil.which(tool) is None:
            sys.exit(f"sass-compare: {tool} is not on PATH (see the header of this script)")
    here = subprocess.run(["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True,
                          text=True).stdout.strip()
    missing = 0
    with tempfile.TemporaryDirectory() as tmp:
        old_root = os.path.join(tmp, "rev")
        os.mkdir(old_root)
        archive = subprocess.run(["git", "-C", here, "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", old_root], input=archive, check=True)
        for cu in files:
            old = kernels(sass(old_root, cu, tmp))
            new = {digest(v): k for k, v in kernels(sass(here, cu, tmp)).items()}
            for name, lines in old.items():
                match = new.get(digest(lines))
                missing += match is None
                print(f"{cu}: {name} ({len(lines)} instructions) -> {match or 'NO IDENTICAL KERNEL'}")
    print(f"{missing} kernel(s) of {rev} without an identical one now")
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: scripts/sass-compare.py REV FILE.cu [FILE.cu ...]")
    sys.exit(main(sys.argv[1], sys.argv[2:]))
