"""LM peers: SciPy's MINPACK Levenberg-Marquardt, one fit at a time, as a harness worker.

    scripts/.venv/bin/python scripts/peers/lm.py MODE      MODE: least_squares | curve_fit

Both fit every row of the harness's data (`y`, fits x points) from its starting guess (`init`,
fits x parameters) at the sample coordinates `x`, with the analytic Jacobian of the models in
scripts/make_lm_references.py and SciPy's default tolerances (what a user would write); the
output is the fitted parameters, fits x parameters, which the harness checks by chi^2 with its
own model. least_squares gets the weighted residuals sqrt(w) (f - y); curve_fit gets the model
with sigma = 1 / sqrt(w), the same chi^2.
"""

import math
import sys
from pathlib import Path

import numpy as np

from protocol import Refuse, need, serve

# The models live with the reference generator, so that the peer and the references share them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def models():
    """make_lm_references (models and weights); it imports SciPy, hence `need` first."""
    need("scipy.optimize")
    import make_lm_references

    return make_lm_references


def least_squares_fit(lm, case, x, sw):
    optimize = need("scipy.optimize")

    def fit(y, p0):
        return optimize.least_squares(lambda q: sw * (lm.model(case, q, x)[0] - y), p0,
                                      jac=lambda q: sw * lm.model(case, q, x)[1], method="lm").x

    return fit


def curve_fit_fit(lm, case, x, sw):
    optimize = need("scipy.optimize")
    sigma = np.full(len(x), 1 / sw)

    def fit(y, p0):
        try:
            params, _ = optimize.curve_fit(lambda xx, *q: lm.model(case, np.array(q), xx)[0], x, y, p0=p0,
                                           sigma=sigma, jac=lambda xx, *q: lm.model(case, np.array(q), xx)[1],
                                           method="lm")
        except RuntimeError as e:
            # curve_fit raises where least_squares returns its last iterate (MINPACK ran out of
            # evaluations): a fit it cannot finish fails the problem, with SciPy's reason.
            raise RuntimeError(f"curve_fit gave up on a fit starting at {p0.tolist()}: {e}") from e
        return params

    return fit


MODES = {"least_squares": least_squares_fit, "curve_fit": curve_fit_fit}


def prepare_with(mode):
    def prepare(problem):
        lm = models()
        if problem.case not in lm.WEIGHT:
            raise Refuse(f"no SciPy model for lm/{problem.case}: scripts/make_lm_references.py knows "
                         f"{', '.join(lm.WEIGHT)}")
        x, y, init = problem.load("x"), problem.load("y"), problem.load("init")
        if y.ndim != 2 or init.ndim != 2 or len(y) != len(init) or y.shape[1] != len(x):
            raise Refuse(f"inputs y {y.shape}, init {init.shape}, x {x.shape} do not fit together: "
                         "expected y fits x points, init fits x parameters, x points x coordinates")
        fit = MODES[mode](lm, problem.case, x, math.sqrt(lm.WEIGHT[problem.case]))

        def run():
            out = np.empty_like(init)
            for i in range(len(y)):
                out[i] = fit(y[i], init[i])
            return out

        return run

    return prepare


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        print(f"usage: lm.py MODE   (MODE: {' | '.join(MODES)})", file=sys.stderr)
        sys.exit(2)
    serve("lm", prepare_with(sys.argv[1]))


if __name__ == "__main__":
    main()
