#!/usr/bin/env python3
"""scripts/ncu-source.py — where a kernel's warps wait, from Nsight Compute's source page.

Reads the CSV that `ncu --import R.ncu-rep --page source --print-source sass --csv` prints (one
row per SASS instruction, with warp-state samples) and prints, as Markdown: the samples by stall
reason over the whole kernel, then the instructions holding the most samples, each with its
largest reasons. The columns are found by name, so other ncu versions' extra columns pass.

    python3 scripts/ncu-source.py ncu-src-down.csv [--top 40]
"""
import argparse
import csv
import signal
import sys


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def read_rows(path):
    try:
        with open(path, newline="", errors="replace") as f:
            lines = [line for line in f if not line.startswith("==")]
    except OSError as e:
        sys.exit(f"{path}: {e.strerror}")
    rows = list(csv.reader(lines))
    for i, row in enumerate(rows):
        if len(row) > 3 and any("Source" in c for c in row):
            return row, [r for r in rows[i + 1:] if len(r) == len(row)]
    sys.exit(f"{path}: no header row with a Source column (is this ncu's source page?)")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the table quietly
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    header, rows = read_rows(args.csv)
    source = next(i for i, c in enumerate(header) if "Source" in c)
    address = next((i for i, c in enumerate(header) if "Address" in c), None)
    total_col = next((i for i, c in enumerate(header) if "Sampling" in c and "All" in c), None)
    if total_col is None:
        total_col = next((i for i, c in enumerate(header) if "Sampling" in c), None)
    if total_col is None:
        sys.exit(f"{args.csv}: no warp-sampling column in {header}")
    # Per-reason columns of all samples (stall_* names; ncu's "(Not Issued)" twins left out, so
    # the shares add up to the total).
    reasons = [i for i, c in enumerate(header)
               if i != total_col and "stall" in c.lower() and "Not Issued" not in c and "Sampling" not in c]
    values = [[number(r[i]) or 0.0 for i in range(len(header))] for r in rows]
    total = sum(v[total_col] for v in values)
    if total == 0:
        sys.exit(f"{args.csv}: no samples")
    print(f"{len(rows)} instructions, {total:.0f} samples ({header[total_col]})\n")
    if reasons:
        print("| reason | samples | share |\n| --- | --- | --- |")
        sums = sorted(((sum(v[i] for v in values), header[i]) for i in reasons), reverse=True)
        for s, name in sums:
            if s > 0:
                print(f"| {name} | {s:.0f} | {100 * s / total:.1f}% |")
        print()
    print("| address | instruction | samples | share | top reasons |\n| --- | --- | --- | --- | --- |")
    order = sorted(range(len(rows)), key=lambda k: -values[k][total_col])
    for k in order[:args.top]:
        v = values[k]
        top = sorted(((v[i], header[i]) for i in reasons if v[i] > 0), reverse=True)[:3]
        why = ", ".join(f"{name} {s:.0f}" for s, name in top)
        where = rows[k][address] if address is not None else str(k)
        print(f"| {where} | `{rows[k][source].strip()[:70]}` | {v[total_col]:.0f} | {100 * v[total_col] / total:.1f}% | {why} |")


if __name__ == "__main__":
    main()
