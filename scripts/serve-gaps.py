#!/usr/bin/env python3
"""scripts/serve-gaps.py — how much of each request's decode window a `rotor bench serve` run
spent in long token gaps (the steps that carried another request's prefill chunk).

    python3 scripts/serve-gaps.py bench-serve-RUN.json [--long-ms 30]

Reads the result JSON's per-request stream timestamps (`requests[].output_times_s`) and prints
the gaps counted, the mean of the short ones (the steady inter-token latency), the long ones'
count and total, what they add to every TPOT, and per request (by TTFT) the seconds of its
decode window spent in them. Tools only: nothing in rotor imports it.
"""
import argparse
import json
import statistics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result_json")
    ap.add_argument("--long-ms", type=float, default=30.0, help="a gap longer than this is a long one")
    args = ap.parse_args()
    gaps, per_request = [], []
    try:
        with open(args.result_json) as f:
            requests = json.load(f)["requests"]
        for r in requests:
            t = r["output_times_s"]
            g = [(b - a) * 1e3 for a, b in zip(t, t[1:])]
            gaps += g
            per_request.append((r["ttft_ms"] / 1e3, sum(x for x in g if x > args.long_ms) / 1e3, sum(g) / 1e3))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{args.result_json}: not a rotor bench serve result with per-request timestamps ({e!r})")
    if not gaps:
        raise SystemExit(f"{args.result_json}: no request has two or more output timestamps")
    short = [x for x in gaps if x <= args.long_ms]
    long_ = [x for x in gaps if x > args.long_ms]
    print(f"{len(requests)} requests, {len(gaps)} token gaps")
    print(f"steady ITL (gaps <= {args.long_ms:g} ms): mean {statistics.mean(short):.2f} ms" if short else "no short gaps")
    print(f"long gaps: {len(long_)}, {sum(long_) / 1e3:.1f} s in all, {sum(long_) / 1e3 / len(requests):.1f} s a request, "
          f"{(statistics.mean(gaps) - (statistics.mean(short) if short else 0)):.2f} ms on every gap's mean")
    print("request (by TTFT): TTFT s, seconds in long gaps, decode window s")
    for ttft, in_long, window in sorted(per_request):
        print(f"  {ttft:6.1f} {in_long:6.1f} {window:6.1f}")


if __name__ == "__main__":
    main()
