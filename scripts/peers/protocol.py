"""The worker's side of the harness's external-worker protocol, version 1 (docs/external.md).

A worker is a script that calls `serve(kernel, prepare)`. The harness writes one JSON object per
line on the worker's stdin and reads one per line from its stdout:

    problem -> prepare(problem) returns a function that computes the output once -> ready
    run     -> that function `count` times back to back, timed as one batch     -> done
    quit    -> exit 0

Stdout carries protocol lines only: `serve` keeps a private copy of the real stdout for them and
points file descriptor 1 (and `sys.stdout`) at stderr, so that a library that prints (a progress
bar, a compiler warning, even from C) cannot corrupt the conversation. The harness keeps the last
lines of stderr in the run folder.

Failures are answered, never fatal: a problem this worker cannot do is one `error` line (with
`"skip": true` when a package is missing or the peer does not support the parameters), and the
worker waits for the next message.
"""

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROTOCOL = 1
_REQUIRED = object()


class Skip(Exception):
    """The peer does not apply here (a package is missing, a size it does not support): the
    harness lists the variant as skipped with this message."""


class Refuse(Exception):
    """The problem is malformed for this worker (wrong kernel, missing input): the harness lists
    the variant as failed with this message."""


@dataclass
class Problem:
    """One `problem` message: what to compute and where to write the output."""

    kernel: str
    case: str
    precision: str
    params: dict
    inputs: dict
    output: Path

    def param(self, name, default=_REQUIRED):
        """A parameter as the harness resolved it; `default` when absent, else an error."""
        if name in self.params:
            return self.params[name]
        if default is _REQUIRED:
            raise Refuse(f"parameter {name!r} missing from the problem: send every parameter of {self.kernel}")
        return default

    def load(self, name):
        """The input array `name` (float64 .npy written by the harness)."""
        path = self.inputs.get(name)
        if path is None:
            raise Refuse(f"input {name!r} missing from the problem: the harness must send {self.kernel}'s inputs")
        return np.load(path, allow_pickle=False)


def need(module):
    """Imports `module`, turning its absence into a Skip with the set-up command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise Skip(f"{e.name} is not installed: run `bash scripts/setup-python.sh`") from e


def one_line(text):
    """Messages are single lines: the harness reads line by line."""
    return " ".join(str(text).split()) or "unknown error"


class Session:
    """The state between messages: the prepared computation and whether its output is written."""

    def __init__(self, kernel, prepare, out):
        self.kernel, self.prepare, self.out = kernel, prepare, out
        self.problem, self.compute, self.written = None, None, False

    def send(self, message):
        self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
        self.out.flush()

    def error(self, message, skip=False):
        answer = {"op": "error", "message": one_line(message)}
        if skip:
            answer["skip"] = True
        self.send(answer)

    def on_problem(self, msg):
        # Forget the previous problem first: a failed prepare must not leave its runnable behind.
        self.problem, self.compute, self.written = None, None, False
        if msg.get("protocol") != PROTOCOL:
            raise Refuse(f"this worker speaks protocol {PROTOCOL}, the harness sent {msg.get('protocol')!r}: "
                         "update the worker or the harness")
        if msg.get("kernel") != self.kernel:
            raise Refuse(f"this worker computes {self.kernel}, not {msg.get('kernel')!r}: fix its external.toml entry")
        if not isinstance(msg.get("output"), str):
            raise Refuse("problem without an output path: the harness must say where to write the result")
        problem = Problem(msg["kernel"], msg.get("case", ""), msg.get("precision", "f64"),
                          msg.get("params", {}), msg.get("inputs", {}), Path(msg["output"]))
        if problem.precision != "f64":
            raise Skip(f"this worker computes in f64 only (asked {problem.precision}): register it as precision f64")
        start = time.perf_counter()
        compute = self.prepare(problem)
        setup = time.perf_counter() - start
        self.problem, self.compute = problem, compute
        self.send({"op": "ready", "protocol": PROTOCOL, "setup_s": setup})

    def on_run(self, msg):
        count = msg.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise Refuse(f"run needs an integer count >= 1, got {count!r}")
        if self.compute is None:
            raise Refuse("run before a successful problem: send a problem first")
        start = time.perf_counter()
        for _ in range(count):
            result = self.compute()
        seconds = time.perf_counter() - start
        if not self.written:
            # The write is not timed; np.save would append ".npy" to another suffix, so write
            # through an open file to honour the exact path the harness gave.
            with open(self.problem.output, "wb") as f:
                np.save(f, np.ascontiguousarray(result, dtype=np.float64))
            self.written = True
        self.send({"op": "done", "count": count, "seconds_per_run": seconds / count})

    def handle(self, line):
        """Answers one message; returns False on quit."""
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as e:
            self.error(f"not a JSON line ({e}): send one JSON object per line")
            return True
        op = msg.get("op") if isinstance(msg, dict) else None
        try:
            if op == "quit":
                return False
            if op == "problem":
                self.on_problem(msg)
            elif op == "run":
                self.on_run(msg)
            else:
                raise Refuse(f"unknown op {op!r}: expected problem, run or quit")
        except Skip as e:
            self.error(e, skip=True)
        except Refuse as e:
            self.error(e)
        except Exception as e:  # noqa: BLE001 - the peer's own failure is this problem's failure, not the worker's
            traceback.print_exc(file=sys.stderr)
            self.error(f"{type(e).__name__}: {e}")
        return True


def serve(kernel, prepare):
    """Runs the protocol on stdin/stdout until `quit` or end of input, then exits 0.

    `prepare(problem)` loads and prepares (imports, compilation, allocations) and returns a
    function of no arguments that computes the output array once."""
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    session = Session(kernel, prepare, protocol_out)
    for line in sys.stdin:
        if line.strip() and not session.handle(line):
            break
    protocol_out.close()
    sys.exit(0)
