"""Plain ``nbgrader autograde`` against ``citylab cohort grade`` on the same 100 submissions.

Run as root (the sandbox runs learner code as separate users) with the project's environment::

    sudo .venv/bin/python benchmarks/grading.py [--count 100] [--keep]

One run on this machine: a cohort is made in a temporary folder, 01-people-centred is
released, and 100 learners hand in a realistic mix made from the released notebook (most
answers right, some rephrased, wrong, mistyped or blank; every tenth notebook untouched; see
tests/hostile/submissions.py). The cohort is then copied, so both graders start from the
same gradebook and files:

* plain nbgrader: one ``nbgrader autograde 01-people-centred`` command, as a trainer runs it
  (sequential, unsandboxed);
* this tool: one ``citylab cohort grade COHORT 01-people-centred`` command with its defaults
  (as many workers as cores, every notebook in its own bubblewrap sandbox, hidden tests
  checked again in a second sandbox).

It prints both wall-clock times, the ratio, the machine's load before and after (other
work on the machine slows both), and whether every learner got the same score from both
(it must). Results also go to
benchmarks/results/grading.json (git-ignored). Target (issue B): at least 2x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile.submissions import Assignment, hand_in, mix

from citylab.cohort.course import Cohort, create

ASSIGNMENT = Assignment("01-people-centred")


def make_cohort(folder: Path, count: int) -> Cohort:
    """A released assignment and ``count`` learners' submissions."""
    cohort = create(folder)
    cohort.nbgrader("generate_assignment", ASSIGNMENT.name)
    learners = [f"b{n:03d}" for n in range(count)]
    with cohort.gradebook() as gradebook:
        for learner in learners:
            gradebook.update_or_create_student(learner)
    for learner, answers in zip(learners, mix(ASSIGNMENT, count), strict=True):
        hand_in(cohort.root, learner, ASSIGNMENT, ASSIGNMENT.answered(cohort.root, answers))
    return cohort


def copy_cohort(cohort: Cohort, folder: Path) -> Cohort:
    """The same cohort in another folder (its settings name their own folder)."""
    shutil.copytree(cohort.root, folder)
    for name in ("nbgrader_config.py", "cohort.json"):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace(str(cohort.root), str(folder)), encoding="utf-8")
    return Cohort.open(folder)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall-clock seconds of one command."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def scores(cohort: Cohort) -> dict[str, float]:
    with cohort.gradebook() as gradebook:
        return {s.student.id: s.code_score for s in gradebook.find_assignment(ASSIGNMENT.name).submissions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="submissions to grade (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the two cohort folders and print where")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmark: run as root (sudo): the sandbox runs learner code as separate users", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="citylab-grading-benchmark-"))
    print(f"Preparing {args.count} submissions of {ASSIGNMENT.name} in {work} ...", flush=True)
    ours = make_cohort(work / "citylab", args.count)
    plain = copy_cohort(ours, work / "plain")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_CONFIG_DIR": str(plain.path(".jupyter")), "JUPYTER_RUNTIME_DIR": str(plain.path(".jupyter", "runtime"))}

    load_before = os.getloadavg()[0]
    print("Plain nbgrader autograde (sequential, not sandboxed) ...", flush=True)
    plain_wall = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT.name], plain.root, env)
    print(f"citylab cohort grade ({len(os.sched_getaffinity(0))} cores, sandboxed) ...", flush=True)
    ours_wall = timed([str(BIN / "citylab"), "cohort", "grade", str(ours.root), ASSIGNMENT.name, "--quiet"],
                      ROOT, os.environ.copy())

    plain_scores, our_scores = scores(plain), scores(ours)
    differ = sorted(k for k in plain_scores.keys() | our_scores.keys() if plain_scores.get(k) != our_scores.get(k))
    result = {
        "submissions": args.count, "cores": len(os.sched_getaffinity(0)),
        "plain_nbgrader_seconds": round(plain_wall, 1), "citylab_grade_seconds": round(ours_wall, 1),
        "speedup": round(plain_wall / ours_wall, 2), "learners_with_different_scores": differ,
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
    }
    print(f"\nplain nbgrader autograde : {plain_wall:7.1f} s")
    print(f"citylab cohort grade     : {ours_wall:7.1f} s (sandboxed)")
    print(f"speed-up                 : {plain_wall / ours_wall:.2f}x  (target: at least 2x)")
    print(f"load average             : {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"(on {len(os.sched_getaffinity(0))} cores; other work slows both)")
    print(f"same scores for all {args.count} learners: {'yes' if not differ else 'NO: ' + ', '.join(differ)}")
    out = ROOT / "benchmarks" / "results" / "grading.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.keep:
        print(f"cohorts kept in {work}")
    else:
        shutil.rmtree(work)
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
