//! `psf/aia/fft` — not applicable to the spike sum, listed so that the reason shows.
//!
//! A sum of Gaussians at arbitrary centres is a convolution of one Gaussian with a set of
//! Dirac spikes; an FFT could do it only if the spikes sat on the pixel grid. Here the
//! centres are at sub-pixel positions (d·cos(a)·m with d = 16.26 px, say), so the spike
//! sum is a non-uniform transform. The composite of the two filters *is* an FFT, in every
//! variant (see `composite.rs`).

use super::PsfProblem;
use crate::error::KernelError;
use crate::variant::{Availability, Precision, Prepared, Strategy, Variant};

pub struct Fft;

const REASON: &str = "the spike centres sit at sub-pixel positions (d·cos(a)·m), so the \
    spike sum is a non-uniform transform, not an FFT; the composite is an FFT in every variant";

impl Variant<PsfProblem> for Fft {
    fn name(&self) -> &'static str {
        "fft"
    }
    fn strategy(&self) -> Strategy {
        Strategy::Fft
    }
    fn precision(&self) -> Precision {
        Precision::F64
    }
    fn idea(&self) -> &'static str {
        "n/a for the spikes (sub-pixel centres: a non-uniform transform); the composite is an FFT everywhere"
    }
    fn file(&self) -> &'static str {
        file!()
    }
    fn probe(&self, _p: &PsfProblem) -> Availability {
        Availability::NotApplicable(REASON.into())
    }
    fn prepare(&self, _p: &PsfProblem) -> Result<Box<dyn Prepared>, KernelError> {
        Err(KernelError::Failed(REASON.into()))
    }
}
