"""CPU cost of the report job's table loading (`context.load_input_tables`), against a floor in the same run.

Each measurement is a fresh Python process, as a report job is: imports are done before the clock starts, and the
process's CPU (user + system, all threads) is read around the one call. The floor reads the same stage tables
(the same columns, texts from Parquet's dictionaries) into Arrow and nothing more: what is left above it is turning
rows into the report's records. `--base-src` times another checkout's code too (its `src` folder, e.g. from
`git archive <commit> src`), interleaved round by round with this one, so both see the same machine.

    python benchmarks/report_load.py --results DIR [--input-id GRCh38] [--part part-000] [--rounds 3]
        [--base-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# Run in a child process: prints {"cpu", "user", "sys", "faults"} of the timed call.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
results, input_id, part, what = sys.argv[1:5]
if what == "floor":
    from pgx_pipeline import schema, sharding
    from pgx_pipeline.report import context as c
    root = Path(results)
    stage = lambda s: sharding.stage_file(root, s, input_id, part)
    run = lambda: (
        [schema.read_arrow(p, schema.SAMPLES) for p in sharding.group_files(root, input_id, part, "samples")],
        sharding.read_genotype_table(sharding.group_files(root, input_id, part, "genotypes"),
                                     [*c.GENOTYPE_COLUMNS, "input_id"], categorical=c.GENOTYPE_TEXTS),
        schema.read_arrow(stage("calls"), schema.CALLS), schema.read_arrow(stage("phenotypes"), schema.PHENOTYPES),
        schema.read_arrow(stage("guidance"), schema.GUIDANCE, categorical=c.GUIDANCE_TEXTS),
        schema.read_arrow(stage("predictions"), schema.PREDICTIONS))
else:
    from pgx_pipeline.report.context import load_input_tables
    run = lambda: load_input_tables(results, input_id, part)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
run()
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
print(json.dumps({"cpu": t1 - t0, "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
                  "faults": r1.ru_minflt - r0.ru_minflt}))
"""


def measure(args, what: str, src: Path | None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.results), args.input_id, args.part, what],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--input-id", default="GRCh38")
    ap.add_argument("--part", default="part-000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base-src", type=Path, help="a checkout's src folder to time beside this code")
    args = ap.parse_args()

    runs = {"floor: the reads into Arrow": ("floor", None), "this code": ("load", None)}
    if args.base_src:
        runs = {"base": ("load", args.base_src.resolve()), **runs}
    got: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (what, src) in runs.items():
            got[name].append(measure(args, what, src))
    floor = sorted(r["cpu"] for r in got["floor: the reads into Arrow"])[len(got["floor: the reads into Arrow"]) // 2]
    print("| code | CPU s (user + sys), each round | user s | sys s | page faults | median / floor |")
    print("|---|---|---|---|---|---|")
    for name, rs in got.items():
        cpu = [r["cpu"] for r in rs]
        median = sorted(cpu)[len(cpu) // 2]
        faults = sorted(r["faults"] for r in rs)[len(rs) // 2]
        print(f"| {name} | {_each(rs, 'cpu')} | {_each(rs, 'user')} | {_each(rs, 'sys')} | {faults:,} | "
              f"{median / floor:.1f}x |")


def _each(rounds: list[dict], key: str) -> str:
    return " / ".join(f"{r[key]:.2f}" for r in rounds)

if __name__ == "__main__":
    main()
