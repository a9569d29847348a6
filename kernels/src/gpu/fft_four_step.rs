//! The four-step FFT of a line too long for one workgroup's memory, in two global passes,
//! each of whose transforms runs out of workgroup memory as in [`super::fft_shared`].
//!
//! With L = N1·N2, j = j1·N2 + j2 and k = k1 + N1·k2 (Bailey's four-step; the transpose is
//! left out):
//!
//! ```text
//! X[k1 + N1·k2] = Σ_j2 e^{−2πi j2·k2/N2} · [ e^{−2πi j2·k1/L} · Σ_j1 e^{−2πi j1·k1/N1} x[j1·N2 + j2] ]
//!                  pass B: N1 transforms of N2            pass A: N2 transforms of N1 (stride N2)
//! ```
//!
//! Pass A writes its point k1 where it read j1 (position k1·N2 + j2), so pass B's input for
//! one k1 is contiguous, and its output X[k1 + N1·k2] lands at position k1·N2 + k2: the
//! spectrum is left in that **digit-transposed order** ([`Split::position`]). The inverse
//! reads that order and runs the passes mirrored (B with the conjugate twiddles after it,
//! then A), ending in natural order, so forward → product → inverse (a convolution) needs
//! no reordering pass as long as the product reads its operand in the same order. Same
//! conventions as [`super::fft`]: unnormalised, forward e^{−2πi jk/L}.
//!
//! Both factors must fit workgroup memory ([`super::fft_shared::fits`]); the split is the
//! most balanced one (N1 ≤ N2), so that each pass has many workgroups (f64 4096 = 64 × 64).
//! The twiddles between the passes come from a host table of L entries computed in f64 and
//! rounded once, as every other table.

use std::sync::Arc;

use super::fft::{Direction, Shape, complex_bytes, real_type};
use super::fft_shared::{Axis, fits, shader_prelude, twiddles};
use super::{BindGroup, Binding, Buffer, Encoder, GpuContext, GpuError, Pipeline};
use crate::variant::Precision;

/// How an L-point line is split: L = `n1`·`n2`, pass A transforms of `n1` points, pass B of
/// `n2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub n1: usize,
    pub n2: usize,
}

impl Split {
    /// The balanced split of an `n`-point line whose factors both fit this adapter's
    /// workgroup memory; `None` when `n` is not a power of two ≥ 4 or a factor does not fit.
    pub fn plan(ctx: &GpuContext, precision: Precision, n: usize) -> Option<Split> {
        if n < 4 || !n.is_power_of_two() {
            return None;
        }
        let n1 = 1usize << (n.trailing_zeros() / 2);
        let split = Split { n1, n2: n / n1 };
        (fits(ctx, precision, split.n1) && fits(ctx, precision, split.n2)).then_some(split)
    }

    /// The line's length.
    pub fn len(&self) -> usize {
        self.n1 * self.n2
    }

    /// Always false: a split has two factors ≥ 2.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the forward transform leaves bin `k`: k1·N2 + k2 for k = k1 + N1·k2.
    pub fn position(&self, k: usize) -> usize {
        (k % self.n1) * self.n2 + k / self.n1
    }

    /// The bin stored at `position` (the inverse of [`Split::position`]).
    pub fn frequency(&self, position: usize) -> usize {
        position / self.n2 + self.n1 * (position % self.n2)
    }
}

/// One pass: its transforms' geometry (the shader's `Lines`) and how many there are.
struct Pass {
    params: Buffer,
    table: Buffer,
    count: u32,
}

/// A planned four-step transform of `count` lines of L points, point j of line b at
/// b·batch_stride + j·elem_stride: two dispatches per direction.
pub struct FourStepAxis {
    split: Split,
    /// Forward A (twiddles after), forward B, inverse B (twiddles after), inverse A.
    pipelines: [Arc<Pipeline>; 4],
    /// [A, B].
    passes: [Pass; 2],
    steps: Buffer,
}

/// A [`FourStepAxis`]'s bind groups for one buffer, in its pipelines' order.
pub struct FourStepAxisBinding {
    groups: [BindGroup; 4],
}

impl FourStepAxis {
    /// Plans `count` lines of `n` points; an error when `n` has no split that fits.
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        [count, elem_stride, batch_stride]: [usize; 3],
    ) -> Result<FourStepAxis, GpuError> {
        let split = Split::plan(ctx, precision, n).ok_or_else(|| {
            GpuError(format!(
                "a {n}-point {} line has no four-step split whose factors fit {} bytes of \
                 workgroup memory on {}: use the Stockham path (gpu::fft_shared::Fft2d \
                 falls back by itself)",
                real_type(precision),
                ctx.max_workgroup_storage_bytes(),
                ctx.summary().name
            ))
        })?;
        let Split { n1, n2 } = split;
        let e = elem_stride;
        // Pass A: sub-line j2 of line b starts at j2·e, its points N2·e apart; pass B:
        // sub-line k1 starts at k1·N2·e, its points e apart.
        let pass = |len: usize, inner: usize, inner_stride: usize, stride: usize| {
            let params = [
                count * inner,
                inner,
                inner_stride,
                batch_stride,
                stride,
                0,
                0,
                0,
            ];
            Ok::<_, GpuError>(Pass {
                params: ctx.uniform_from("four-step lines", &params.map(|v| v as u32))?,
                table: twiddles(ctx, precision, len, (len / 2).max(1))?,
                count: (count * inner) as u32,
            })
        };
        let passes = [pass(n1, n2, e, n2 * e)?, pass(n2, n1, n2 * e, e)?];
        let pipeline = |len: usize, sign: &str, twiddle: bool| {
            let source = format!(
                "{}\nconst SIGN: real = {sign};\nconst TWIDDLE: bool = {twiddle};\n{}",
                shader_prelude(ctx, precision, len, 1),
                include_str!("fft_four_step.wgsl")
            );
            let name = format!(
                "fft-four-step-{}-{len}-{sign}-{twiddle}",
                real_type(precision)
            );
            use Binding::{ReadOnly, ReadWrite, Uniform};
            let layout = [Uniform, ReadWrite, ReadOnly, ReadOnly];
            ctx.pipeline(&name, &source, "sub_lines", &layout)
        };
        Ok(FourStepAxis {
            split,
            pipelines: [
                pipeline(n1, "-1.0", true)?,
                pipeline(n2, "-1.0", false)?,
                pipeline(n2, "1.0", true)?,
                pipeline(n1, "1.0", false)?,
            ],
            passes,
            steps: twiddles(ctx, precision, n, n)?,
        })
    }

    /// How the lines are split (and so where the forward transform leaves each bin).
    pub fn split(&self) -> Split {
        self.split
    }

    /// Global-memory passes of one transform.
    pub fn global_passes(&self) -> usize {
        self.passes.len()
    }

    /// Prepares the transform of `data` (the caller has checked its size).
    pub fn bind(&self, ctx: &GpuContext, data: &Buffer) -> Result<FourStepAxisBinding, GpuError> {
        let group = |q: usize| {
            let pass = &self.passes[PASS_OF[q]];
            ctx.bind(
                &self.pipelines[q],
                &[
                    (&pass.params).into(),
                    data.into(),
                    (&pass.table).into(),
                    (&self.steps).into(),
                ],
            )
        };
        Ok(FourStepAxisBinding {
            groups: [group(0)?, group(1)?, group(2)?, group(3)?],
        })
    }

    /// Records the two passes: forward natural → digit-transposed, inverse back.
    pub fn encode(&self, enc: &mut Encoder<'_>, b: &FourStepAxisBinding, direction: Direction) {
        let steps = match direction {
            Direction::Forward => [Step::ForwardA, Step::ForwardB],
            Direction::Inverse => [Step::InverseB, Step::InverseA],
        };
        for step in steps {
            self.encode_step(enc, b, step);
        }
    }

    /// Records one of the four dispatches, for users that fuse their own work into pass B
    /// (deconvolution: forward B, product, inverse B in one dispatch).
    pub fn encode_step(&self, enc: &mut Encoder<'_>, b: &FourStepAxisBinding, step: Step) {
        let q = step as usize;
        let count = self.passes[PASS_OF[q]].count;
        enc.dispatch(&self.pipelines[q], &b.groups[q], count);
    }
}

/// The four dispatches of a [`FourStepAxis`], in its pipelines' order: a forward transform
/// is A then B, an inverse B then A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// N2 transforms of N1 points (stride N2), then the twiddles e^{−2πi j2·k1/L}.
    ForwardA = 0,
    /// N1 contiguous transforms of N2 points.
    ForwardB = 1,
    /// N1 contiguous inverse transforms of N2 points, then the twiddles e^{+2πi k1·j2/L}.
    InverseB = 2,
    /// N2 inverse transforms of N1 points (stride N2).
    InverseA = 3,
}

/// Which pass (A = 0, B = 1) each of the four pipelines runs.
const PASS_OF: [usize; 4] = [0, 1, 1, 0];

/// One line direction of a [`FourStepFft`]: whole lines in one dispatch where they fit,
/// else the four-step.
enum Line {
    Whole(Axis),
    Split(FourStepAxis),
}

/// A [`Line`]'s bind groups.
enum LineBinding {
    Whole([BindGroup; 2]),
    Split(FourStepAxisBinding),
}

impl Line {
    fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        n: usize,
        geometry: [usize; 3],
    ) -> Result<Line, GpuError> {
        match fits(ctx, precision, n) {
            true => Ok(Line::Whole(Axis::new(ctx, precision, n, geometry)?)),
            false => Ok(Line::Split(FourStepAxis::new(ctx, precision, n, geometry)?)),
        }
    }

    fn split(&self) -> Option<Split> {
        match self {
            Line::Whole(_) => None,
            Line::Split(a) => Some(a.split()),
        }
    }
}

/// A 2-D (or batched 1-D) FFT whose sides each run out of workgroup memory: in one pass
/// where the side fits, in two (the four-step) where only its factors do. The forward
/// transform leaves a four-step side's bins in digit-transposed order
/// ([`FourStepFft::stored_order`]); the inverse reads that order.
pub struct FourStepFft {
    ctx: &'static GpuContext,
    precision: Precision,
    shape: Shape,
    lines: Vec<Line>,
}

/// A [`FourStepFft`]'s bind groups for one buffer.
pub struct FourStepBinding {
    lines: Vec<LineBinding>,
}

impl FourStepFft {
    /// Plans `shape`; an error when a side neither fits nor splits into factors that fit.
    pub fn new(
        ctx: &'static GpuContext,
        precision: Precision,
        shape: Shape,
    ) -> Result<FourStepFft, GpuError> {
        ctx.check_binding(
            "the FFT's data",
            shape.len() as u64 * complex_bytes(precision),
        )?;
        let lines = match shape {
            Shape::Rows { batch, n } => vec![Line::new(ctx, precision, n, [batch, 1, n])?],
            Shape::Grid { rows, cols } => vec![
                Line::new(ctx, precision, cols, [rows, 1, cols])?,
                Line::new(ctx, precision, rows, [cols, cols, 1])?,
            ],
        };
        Ok(FourStepFft {
            ctx,
            precision,
            shape,
            lines,
        })
    }

    /// Bytes of the array this plan transforms.
    pub fn bytes(&self) -> u64 {
        self.shape.len() as u64 * complex_bytes(self.precision)
    }

    /// Global-memory passes of one transform: 1 per side that fits, 2 per four-step side.
    pub fn global_passes(&self) -> usize {
        let passes = |l: &Line| match l {
            Line::Whole(_) => 1,
            Line::Split(a) => a.global_passes(),
        };
        self.lines.iter().map(passes).sum()
    }

    /// For each stored position (row-major), the row-major index of the spectrum bin the
    /// forward transform leaves there (allocates; for tests and host-side reordering).
    pub fn stored_order(&self) -> Vec<usize> {
        let at = |split: Option<Split>, p: usize| split.map_or(p, |s| s.frequency(p));
        match self.shape {
            Shape::Rows { batch, n } => {
                let split = self.lines[0].split();
                (0..batch * n)
                    .map(|i| i - i % n + at(split, i % n))
                    .collect()
            }
            Shape::Grid { rows, cols } => {
                let (row, col) = (self.lines[0].split(), self.lines[1].split());
                let bin = |i: usize| at(col, i / cols) * cols + at(row, i % cols);
                (0..rows * cols).map(bin).collect()
            }
        }
    }

    /// Prepares the transform of `data` (interleaved complex, row-major, this plan's shape).
    pub fn bind(&self, data: &Buffer) -> Result<FourStepBinding, GpuError> {
        if data.bytes() != self.bytes() {
            return Err(GpuError(format!(
                "four-step FFT of {:?} needs {} bytes, the buffer has {}",
                self.shape,
                self.bytes(),
                data.bytes()
            )));
        }
        let bind = |l: &Line| match l {
            Line::Whole(a) => a.bind(self.ctx, data).map(LineBinding::Whole),
            Line::Split(a) => a.bind(self.ctx, data).map(LineBinding::Split),
        };
        Ok(FourStepBinding {
            lines: self.lines.iter().map(bind).collect::<Result<_, _>>()?,
        })
    }

    /// Records the transform of the bound buffer into `enc`, in place (the sides act on
    /// different indices, so their order does not matter: rows first, as everywhere).
    pub fn encode(&self, enc: &mut Encoder<'_>, binding: &FourStepBinding, direction: Direction) {
        for pair in self.lines.iter().zip(&binding.lines) {
            match pair {
                (Line::Whole(a), LineBinding::Whole(g)) => a.encode(enc, g, direction),
                (Line::Split(a), LineBinding::Split(g)) => a.encode(enc, g, direction),
                (Line::Whole(_), LineBinding::Split(_))
                | (Line::Split(_), LineBinding::Whole(_)) => {
                    debug_assert!(false, "a four-step binding used with another plan")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_frequencies_are_inverse_permutations() {
        for (n1, n2) in [(2, 2), (4, 8), (64, 64), (64, 128)] {
            let s = Split { n1, n2 };
            let mut seen = vec![false; s.len()];
            for k in 0..s.len() {
                let p = s.position(k);
                assert!(!seen[p], "{n1}×{n2}: position {p} twice");
                seen[p] = true;
                assert_eq!(s.frequency(p), k);
            }
        }
        // Bin k1 + N1·k2 at k1·N2 + k2: bin 1 right after the first N2 positions.
        assert_eq!(Split { n1: 4, n2: 8 }.position(1), 8);
        assert_eq!(Split { n1: 4, n2: 8 }.position(4), 1);
    }
}
