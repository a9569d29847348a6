"""Checks a worker by hand: plays the harness's side of the protocol (docs/external.md).

    python3 scripts/peers/drive.py check --kernel laue --case strained [--param n=32 ...] [--count 3]
        [--variant naive] [--harness target/release/harness] -- scripts/.venv/bin/python scripts/peers/laue.py numpy
    python3 scripts/peers/drive.py faults --kernel laue -- scripts/.venv/bin/python scripts/peers/laue.py numpy

`check` resolves the problem's parameters with `harness list`, writes the inputs from the
harness's own data (`harness run ... --save` for deconv's image and PSF and for the reference,
the `lm_data` example for lm's x, y and init), sends problem, run 1 and run COUNT for each
problem of the --param sweep (all in one worker session), then quit, and compares the worker's
output with the harness's variant at the same parameters: by max|ref - out| / max|ref| (laue,
psf, deconv), or by the chi^2 excess over the harness's fit on the fits it converged (lm, as
kernels/src/lm/validation.rs). It prints one line per problem and exits 1 when the worker
misbehaved or its output is beyond --tolerance.

`faults` sends malformed messages (not JSON, run before problem, another protocol, another
kernel, an unknown op, a run count of 0) and checks that each is answered by one error line and
that the worker still quits with status 0.

Needs NumPy for the comparison (and SciPy for lm's models): run it with the venv's python.
"""

import argparse
import json
import math
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_VARIANT = {"laue": "naive", "psf": "windowed", "deconv": "fft", "lm": "naive"}


class Worker:
    """A worker process and its protocol lines, with a timeout on every answer."""

    def __init__(self, command, stderr_path, timeout):
        self.stderr = open(stderr_path, "w")
        self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        self.timeout = timeout

    def send(self, message):
        line = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            raise SystemExit(f"no answer within {self.timeout} s: the worker hangs (see its stderr)")
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the worker closed stdout (exit status {self.proc.wait()}): see its stderr")
        return json.loads(line)

    def ask(self, message):
        self.send(message)
        return self.answer()

    def quit(self):
        self.send({"op": "quit"})
        status = self.proc.wait(timeout=self.timeout)
        extra = self.proc.stdout.read()
        self.stderr.close()
        return status, extra


def harness(args, *command):
    done = subprocess.run([str(args.harness), "-q", *command], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`harness {' '.join(command[:5])} ...` failed: {done.stderr.strip()}")
    return done.stdout


def param_flags(params):
    return [a for k, v in sorted(params.items()) for a in (f"--{k}", str(v))]


def problems(args):
    """Every combination of the --param values (comma-separated, as `harness bench` takes them)."""
    combos = [{}]
    for item in args.param:
        name, values = item.split("=", 1)
        combos = [dict(c, **{name: v}) for c in combos for v in values.split(",")]
    return combos


def resolve(args, given):
    """Every parameter of the problem, as `harness list` resolves them (numbers as JSON)."""
    text = harness(args, "list", "--kernel", args.kernel, "--case", args.case, *param_flags(given))
    m = re.search(rf"^\s*{args.kernel}/{args.case}\s+\[([^\]]*)\]", text, re.M)
    if not m:
        raise SystemExit(f"`harness list` shows no {args.kernel}/{args.case}: check --kernel and --case")
    params = {}
    for kv in m.group(1).split():
        k, v = kv.split("=", 1)
        params[k] = int(float(v)) if float(v).is_integer() else float(v)
    return params


def prepare_inputs(args, params, tmp):
    """(inputs, reference path) for this problem, written from the harness's own data."""
    ref = tmp / "reference.npy"
    harness(args, "run", "--kernel", args.kernel, "--case", args.case, "--variant", args.variant,
            *param_flags(params), "--save", str(ref))
    if args.kernel == "deconv":
        return {"image": str(ref.with_name("reference.image.npy")), "psf": str(ref.with_name("reference.psf.npy"))}, ref
    if args.kernel == "lm":
        subprocess.run([str(args.lm_data), args.case, str(params["fits"]), str(params["seed"]), str(tmp)],
                       check=True, capture_output=True)
        return {name: str(tmp / f"{args.case}_{name}.npy") for name in ("x", "y", "init")}, ref
    return {}, ref


def compare(args, inputs, ref, out):
    """(error, what it measures) of the worker's output against the harness's."""
    import numpy as np

    got, want = np.load(out), np.load(ref)
    if args.kernel != "lm":
        if got.shape != want.shape:
            return math.inf, f"shape {got.shape} != harness {want.shape}"
        return float(np.max(np.abs(want - got)) / np.max(np.abs(want))), "max|ref-out|/max|ref|"
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_lm_references as lm

    x, y = np.load(inputs["x"]), np.load(inputs["y"])
    sw = math.sqrt(lm.WEIGHT[args.case])
    chi2 = np.array([np.sum((sw * (lm.model(args.case, q, x)[0] - yi)) ** 2) for q, yi in zip(got, y)])
    chi2_h = np.load(ref.with_name("reference.chi2.npy"))
    ok = np.load(ref.with_name("reference.state.npy")) == 0
    excess = (chi2[ok] - chi2_h[ok]) / np.maximum(1.0, chi2_h[ok])
    return float(max(np.max(excess), 0.0)), f"chi2 excess over harness on its {int(ok.sum())}/{len(ok)} converged fits"


def check(args):
    """One worker session: every problem of the --param sweep in turn, one result line each."""
    with tempfile.TemporaryDirectory(prefix="drive-") as tmp:
        tmp = Path(tmp)
        worker = Worker(args.worker, tmp / "stderr.txt", args.timeout)
        failed = 0
        for i, given in enumerate(problems(args)):
            folder = tmp / f"problem-{i}"
            folder.mkdir()
            failed += not check_one(args, worker, resolve(args, given), folder)
        status, extra = worker.quit()
        print(f"worker: exit {status}{', stray stdout: ' + repr(extra) if extra else ''}")
        if extra or status != 0 or failed:
            print("\n".join((tmp / "stderr.txt").read_text().strip().splitlines()[-5:]), file=sys.stderr)
        return 0 if status == 0 and not extra and not failed else 1


def check_one(args, worker, params, tmp):
    """problem, run 1, run COUNT; prints the result line; False when the worker misbehaved."""
    inputs, ref = prepare_inputs(args, params, tmp)
    out = tmp / "worker-output.npy"
    problem = {"op": "problem", "protocol": 1, "kernel": args.kernel, "case": args.case, "precision": "f64",
               "params": params, "inputs": inputs, "output": str(out)}
    summary = f"{args.kernel}/{args.case} {' '.join(f'{k}={v}' for k, v in sorted(params.items()))} " \
              f"| {' '.join(args.worker[1:])}"
    start = time.perf_counter()
    answers = [worker.ask(problem)]
    if answers[0]["op"] == "ready":
        answers.append(worker.ask({"op": "run", "count": 1}))
        if answers[-1]["op"] == "done" and args.count > 0:
            answers.append(worker.ask({"op": "run", "count": args.count}))
    wall = time.perf_counter() - start
    last = answers[-1]
    if last["op"] == "error":
        print(f"{summary} | {'skipped' if last.get('skip') else 'failed'}: {last['message']}")
        return last["op"] == "error" and len(answers) == 1
    error, measure = compare(args, inputs, ref, out)
    # lm: the problem's own tolerance, as kernels/src/lm/validation.rs applies it to chi^2.
    tolerance = params["tolerance"] if args.kernel == "lm" else args.tolerance
    verdict = "ok" if error <= tolerance else "TOO FAR"
    print(f"{summary} | setup {answers[0]['setup_s']:.3g} s | {last['seconds_per_run']:.4g} s/run "
          f"(count {last['count']}) | wall {wall:.3g} s | {measure} = {error:.2e} (vs {args.variant}; "
          f"{verdict}, tolerance {tolerance:.0e})")
    return last["op"] == "done" and last["count"] == max(args.count, 1) and error <= tolerance


def faults(args):
    """Each malformed message gets one error line; the worker survives and quits with 0."""
    probes = [
        ("not JSON", "this is not json"),
        ("run before problem", {"op": "run", "count": 1}),
        ("other protocol", {"op": "problem", "protocol": 2, "kernel": args.kernel, "case": "x", "params": {},
                            "inputs": {}, "output": "/nonexistent/out.npy"}),
        ("other kernel", {"op": "problem", "protocol": 1, "kernel": "no-such-kernel", "case": "x", "params": {},
                          "inputs": {}, "output": "/nonexistent/out.npy"}),
        ("unknown op", {"op": "dance"}),
        ("count 0", {"op": "run", "count": 0}),
    ]
    with tempfile.TemporaryDirectory(prefix="drive-") as tmp:
        worker = Worker(args.worker, Path(tmp) / "stderr.txt", args.timeout)
        bad = 0
        for label, message in probes:
            answer = worker.ask(message)
            good = answer.get("op") == "error" and "\n" not in answer.get("message", "\n")
            bad += not good
            print(f"{label:<20} {'ok  ' if good else 'BAD '} {json.dumps(answer)}")
        status, extra = worker.quit()
        print(f"quit: exit {status}{', stray stdout: ' + repr(extra) if extra else ''}")
        return 0 if bad == 0 and status == 0 and not extra else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("check", "faults"))
    ap.add_argument("--kernel", required=True, choices=sorted(DEFAULT_VARIANT))
    ap.add_argument("--case", default="")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE[,VALUE...]",
                    help="a parameter of the problem; several values: one problem each, in one worker session")
    ap.add_argument("--variant", help="the harness variant to compare with (default per kernel: "
                                      + ", ".join(f"{k} {v}" for k, v in DEFAULT_VARIANT.items()) + ")")
    ap.add_argument("--count", type=int, default=3, help="runs in the timed batch after the first (default 3; 0: the first run only)")
    ap.add_argument("--tolerance", type=float, default=1e-10,
                    help="largest max|ref-out|/max|ref| accepted (default 1e-10; lm uses the problem's "
                         "tolerance on the chi^2 excess). A sanity bound: the harness applies its own")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each answer (default 600)")
    ap.add_argument("--harness", type=Path, default=ROOT / "target/release/harness")
    ap.add_argument("--lm-data", type=Path, default=ROOT / "target/release/examples/lm_data")
    ap.add_argument("worker", nargs="+", help="the worker's command line (after --)")
    args = ap.parse_args()
    if args.mode == "check" and not args.case:
        ap.error("check needs --case")
    if any("=" not in p for p in args.param):
        ap.error("--param takes NAME=VALUE[,VALUE...]")
    args.variant = args.variant or DEFAULT_VARIANT[args.kernel]
    sys.exit(check(args) if args.mode == "check" else faults(args))


if __name__ == "__main__":
    main()
