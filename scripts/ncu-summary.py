#!/usr/bin/env python3
"""scripts/ncu-summary.py CSV [CSV ...] — one row per kernel from Nsight Compute's CSV (the
`ncu` step of scripts/gpu-check.sh, run with --csv --print-units base): launches, median
duration, SM clock, DRAM bytes per launch and their rate, grid, block, registers, achieved
occupancy, and each kernel's share of the total; sorted by total time."""
import collections
import csv
import statistics
import sys

# Metric units to seconds, bytes and hertz (ncu 2025 writes ns and hz; older versions nsecond and
# cycle/second).
SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "nsecond": 1e-9, "usecond": 1e-6, "msecond": 1e-3,
         "second": 1.0, "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "hz": 1.0, "khz": 1e3, "mhz": 1e6,
         "ghz": 1e9, "cycle/second": 1.0, "cycle/nsecond": 1e9, "cycle/usecond": 1e6}


def short_name(name):
    """The kernel's name without its return type, namespaces and parameter list; template
    arguments one level deep."""
    for space in ("(anonymous namespace)::", "<unnamed>::", "unnamed>::", "rotor::cuda::"):
        name = name.replace(space, "")
    if name.startswith("void "):
        name = name[5:]
    depth, out = 0, []
    for ch in name:
        if ch == "(" and depth == 0:
            break
        before = depth
        depth += (ch == "<") - (ch == ">")
        if max(before, depth) <= 1:
            out.append(ch)
    return "".join(out)


def value(row):
    v = row["Metric Value"].replace(",", "")
    try:
        return float(v) * SCALE.get(row.get("Metric Unit", ""), 1.0)
    except ValueError:
        return None


def launches(path):
    """{launch id: {"name": ..., metric: value}} from one CSV (lines before the header skipped)."""
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    by_id = collections.OrderedDict()
    for row in csv.DictReader(lines):
        launch = by_id.setdefault(row["ID"], {"name": short_name(row["Kernel Name"])})
        launch[row["Metric Name"]] = value(row)
    return by_id


def summary(path):
    kernels = collections.OrderedDict()
    found = launches(path)
    if not found:
        raise KeyError("no rows with a Kernel Name")
    for launch in found.values():
        kernels.setdefault(launch["name"], []).append(launch)
    total = sum(l.get("gpu__time_duration.sum") or 0 for ls in kernels.values() for l in ls)
    print(f"\n{path}: {sum(len(v) for v in kernels.values())} launches, {total * 1e3:.3f} ms of kernel time")
    print("| kernel | launches | median us | share | SM GHz | DRAM MB/launch | TB/s | grid | block | regs | occupancy % |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for name, ls in kernels.items():
        med = lambda key: statistics.median([l[key] for l in ls if l.get(key) is not None] or [0.0])
        t = med("gpu__time_duration.sum")
        dram = med("dram__bytes_read.sum") + med("dram__bytes_write.sum")
        spent = sum(l.get("gpu__time_duration.sum") or 0 for l in ls)
        rows.append((spent, f"| {name} | {len(ls)} | {t * 1e6:.1f} | {100 * spent / max(total, 1e-12):.1f}% | "
                            f"{med('sm__cycles_elapsed.avg.per_second') / 1e9:.2f} | {dram / 1e6:.2f} | "
                            f"{dram / max(t, 1e-12) / 1e12:.2f} | {med('launch__grid_size'):.0f} | "
                            f"{med('launch__block_size'):.0f} | {med('launch__registers_per_thread'):.0f} | "
                            f"{med('sm__warps_active.avg.pct_of_peak_sustained_active'):.0f} |"))
    for _, line in sorted(rows, reverse=True):
        print(line)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        try:
            summary(p)
        except (OSError, KeyError, csv.Error) as e:
            sys.exit(f"ncu-summary: {p}: not an Nsight Compute CSV ({type(e).__name__}: {e})")
