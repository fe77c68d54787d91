"""Builds tests/e2e/data/json_schema_corpus.json: 100 distinct schemas of the JSON Schema Test
Suite (draft 2020-12, the required tests) that `rotor serve` accepts as a structured-output
constraint, taken round-robin over the suite's files (one accepted schema per file per round,
files in name order) so that every keyword file rotor supports is represented. The suite is MIT-licensed data; it comes from the
jsonschema sdist on PyPI, which ships it under json/. Run against a server:

    python3 tests/e2e/make_schema_corpus.py --url http://127.0.0.1:8000 [--model NAME]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tarfile
import tempfile

import requests

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "data" / "json_schema_corpus.json"
VERSION = "4.26.0"


def suite_schemas(tmp: pathlib.Path):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    f"jsonschema=={VERSION}", "-d", str(tmp)], check=True)
    sdist = next(tmp.glob("jsonschema-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        prefix = f"jsonschema-{VERSION}/json/"
        licence = tar.extractfile(prefix + "LICENSE").read().decode()
        names = sorted(m.name for m in tar.getmembers()
                       if m.name.startswith(prefix + "tests/draft2020-12/") and m.name.endswith(".json")
                       and "/optional/" not in m.name)
        seen, files = set(), []
        for name in names:
            groups = []
            for group in json.load(tar.extractfile(name)):
                key = json.dumps(group["schema"], sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    groups.append((name[len(prefix):], group["description"], group["schema"]))
            files.append(groups)
        return licence, files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model")
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        licence, files = suite_schemas(pathlib.Path(tmp))

    def accepted(schema) -> bool:
        body = {"prompt": "x", "max_tokens": 1, "guided_json": schema}
        if args.model:
            body["model"] = args.model
        r = requests.post(args.url + "/v1/completions", json=body, timeout=120)
        if r.status_code not in (200, 400):
            raise SystemExit(f"HTTP {r.status_code} {r.text} for {schema}")
        return r.status_code == 200

    picked, tried = [], 0
    while len(picked) < args.count and any(files):
        for groups in files:
            while groups and len(picked) < args.count:
                path, description, schema = groups.pop(0)
                tried += 1
                if accepted(schema):
                    picked.append({"file": path, "description": description, "schema": schema})
                    break
    OUT.write_text(json.dumps({
        "source": f"JSON Schema Test Suite, draft2020-12 (tests/draft2020-12, not optional/), as shipped in the "
                  f"jsonschema {VERSION} sdist on PyPI (json/); {len(picked)} distinct schemas that rotor "
                  f"accepts ({tried} tried), round-robin over the files; made by tests/e2e/make_schema_corpus.py",
        "license": licence,
        "schemas": picked,
    }, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(picked)} of {tried} schemas -> {OUT}")


if __name__ == "__main__":
    main()
