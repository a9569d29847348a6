//! Outputs, tolerances and the one comparison every kernel's validation goes through.
//!
//! The measure is the ESRF course's: `max|ref − out| / max|ref|` over the whole array
//! (scale-free, and dominated by where the signal is). Kernels whose outputs span many
//! decades (the PSF, deconvolved images) add a relative error on the mask where the
//! reference is significant. Any NaN or infinity in an output fails outright.

use std::fmt;

use ndarray::ArrayD;

/// A variant's result: one or more named `f64` arrays (written as `.npy`).
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub arrays: Vec<(String, ArrayD<f64>)>,
}

impl Output {
    pub fn single(name: &str, array: ArrayD<f64>) -> Output {
        Output {
            arrays: vec![(name.to_string(), array)],
        }
    }

    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
}

/// How close a variant must come to its reference, with the reason for the numbers.
/// Written next to the reference it applies to (each kernel's `tolerance` function).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Tolerance {
    /// Bound on `max|ref − out| / max|ref|`.
    pub max_norm: f64,
    /// Optional bound on `|ref − out| / |ref|` where `|ref| > threshold · max|ref|`.
    pub relative: Option<RelativeTolerance>,
    /// Why these numbers: precision of the arithmetic, summation order, iterations...
    pub reason: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RelativeTolerance {
    /// The mask: points where `|ref| > threshold · max|ref|`.
    pub threshold: f64,
    pub rtol: f64,
}

/// The outcome of comparing one output array with its reference.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub array: String,
    /// `max|ref − out| / max|ref|` (infinite when the output has NaN/Inf or the wrong shape).
    pub error: f64,
    /// Worst relative error on the significant mask, when the tolerance asks for one.
    pub relative_error: Option<f64>,
    /// Index (row-major, one entry per axis) of the worst absolute difference.
    pub worst_index: Vec<usize>,
    pub reference_value: f64,
    pub output_value: f64,
    pub passed: bool,
    /// One sentence for humans when something is structurally wrong (shape, NaN, missing).
    pub problem: Option<String>,
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.problem {
            return write!(f, "{}: {p}", self.array);
        }
        write!(
            f,
            "{}: error {:.2e} (worst at {:?}: reference {:.17e}, output {:.17e})",
            self.array, self.error, self.worst_index, self.reference_value, self.output_value
        )?;
        if let Some(r) = self.relative_error {
            write!(f, ", relative error {r:.2e}")?;
        }
        Ok(())
    }
}

/// The validation of a whole output.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Check {
    pub comparisons: Vec<Comparison>,
    pub tolerance: Tolerance,
    /// Kernel-specific lines (e.g. LM's parameter-difference percentiles).
    pub notes: Vec<String>,
}

impl Check {
    pub fn passed(&self) -> bool {
        !self.comparisons.is_empty() && self.comparisons.iter().all(|c| c.passed)
    }

    /// The largest error over the arrays (what the report's "error" column shows).
    pub fn error(&self) -> f64 {
        self.comparisons
            .iter()
            .map(|c| c.error)
            .fold(
                0.0,
                |a: f64, b| if b.is_nan() { f64::INFINITY } else { a.max(b) },
            )
    }

    pub fn worst(&self) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .max_by(|a, b| a.error.total_cmp(&b.error))
    }
}

/// Compares every array of `reference` with the array of the same name in `output`.
pub fn compare_outputs(output: &Output, reference: &Output, tolerance: &Tolerance) -> Check {
    let comparisons = reference
        .arrays
        .iter()
        .map(|(name, r)| match output.get(name) {
            Some(o) => compare(name, o, r, tolerance),
            None => failed(name, format!("the output has no array named `{name}`")),
        })
        .collect();
    Check {
        comparisons,
        tolerance: tolerance.clone(),
        notes: Vec::new(),
    }
}

/// The shared check helper: max-normalised error, optional relative error on the
/// significant mask, worst index with both values.
pub fn compare(
    name: &str,
    out: &ArrayD<f64>,
    reference: &ArrayD<f64>,
    tol: &Tolerance,
) -> Comparison {
    if out.shape() != reference.shape() {
        return failed(
            name,
            format!(
                "shape {:?} does not match the reference's {:?}",
                out.shape(),
                reference.shape()
            ),
        );
    }
    if let Some((i, v)) = out.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        let mut c = failed(
            name,
            format!("non-finite value {v} at {:?}", unravel(i, out.shape())),
        );
        c.worst_index = unravel(i, out.shape());
        c.output_value = *v;
        c.reference_value = reference.iter().nth(i).copied().unwrap_or(f64::NAN);
        return c;
    }
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (mut worst, mut worst_diff) = (0usize, -1.0f64);
    for (i, (o, r)) in out.iter().zip(reference.iter()).enumerate() {
        let d = (o - r).abs();
        if d > worst_diff {
            worst_diff = d;
            worst = i;
        }
    }
    // An all-zero reference is matched only by an all-zero output.
    let error = if scale > 0.0 {
        worst_diff.max(0.0) / scale
    } else if worst_diff > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let relative_error = tol.relative.map(|rel| {
        out.iter()
            .zip(reference.iter())
            .filter(|(_, r)| r.abs() > rel.threshold * scale)
            .map(|(o, r)| ((o - r) / r).abs())
            .fold(0.0f64, f64::max)
    });
    let passed = error <= tol.max_norm
        && match (tol.relative, relative_error) {
            (Some(rel), Some(e)) => e <= rel.rtol,
            _ => true,
        };
    Comparison {
        array: name.to_string(),
        error,
        relative_error,
        worst_index: unravel(worst, out.shape()),
        reference_value: reference.iter().nth(worst).copied().unwrap_or(f64::NAN),
        output_value: out.iter().nth(worst).copied().unwrap_or(f64::NAN),
        passed,
        problem: None,
    }
}

fn failed(name: &str, problem: String) -> Comparison {
    Comparison {
        array: name.to_string(),
        error: f64::INFINITY,
        relative_error: None,
        worst_index: Vec::new(),
        reference_value: f64::NAN,
        output_value: f64::NAN,
        passed: false,
        problem: Some(problem),
    }
}

/// Row-major flat index to one index per axis.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &len) in shape.iter().enumerate().rev() {
        if len > 0 {
            index[axis] = flat % len;
            flat /= len;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    const TOL: Tolerance = Tolerance {
        max_norm: 1e-12,
        relative: None,
        reason: "test",
    };

    fn arr(v: &[f64], shape: &[usize]) -> ArrayD<f64> {
        ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap()
    }

    #[test]
    fn reports_worst_index_and_both_values() {
        let r = arr(&[1.0, 2.0, 4.0, 8.0], &[2, 2]);
        let o = arr(&[1.0, 2.5, 4.0, 8.0], &[2, 2]);
        let c = compare("x", &o, &r, &TOL);
        assert!(!c.passed);
        assert_eq!(c.worst_index, vec![0, 1]);
        assert_eq!((c.reference_value, c.output_value), (2.0, 2.5));
        assert_eq!(c.error, 0.5 / 8.0);
    }

    #[test]
    fn nan_and_shape_fail() {
        let r = arr(&[1.0, 2.0], &[2]);
        assert!(!compare("x", &arr(&[1.0, f64::NAN], &[2]), &r, &TOL).passed);
        assert!(!compare("x", &arr(&[1.0, 2.0], &[1, 2]), &r, &TOL).passed);
        assert!(compare("x", &arr(&[1.0, 2.0], &[2]), &r, &TOL).passed);
    }

    #[test]
    fn relative_mask_catches_wing_errors() {
        let tol = Tolerance {
            max_norm: 1e-3,
            relative: Some(RelativeTolerance {
                threshold: 1e-10,
                rtol: 1e-6,
            }),
            reason: "test",
        };
        // The wing value is off by 100 % but tiny against the peak.
        let r = arr(&[1.0, 1e-8], &[2]);
        let o = arr(&[1.0, 2e-8], &[2]);
        let c = compare("x", &o, &r, &tol);
        assert!(c.error < 1e-7 && !c.passed);
        assert_eq!(c.relative_error, Some(1.0));
    }
}
