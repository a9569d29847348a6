//! Without the `profiling` feature: the same names, each answering that the feature is off.

use std::io::Write;

use anyhow::{Result, bail};

use super::folded::RawStack;

pub const ASKED_HZ: i32 = 1000;

const OFF: &str = "this harness was built without the `profiling` feature (pprof): \
                   rebuild with default features to profile";

pub fn sample<T>(_f: impl FnOnce() -> T) -> Result<(T, Vec<RawStack>)> {
    bail!(OFF)
}

pub struct Sampler;

impl Sampler {
    pub fn start() -> Result<Sampler> {
        bail!(OFF)
    }

    pub fn finish(self) -> Result<Vec<RawStack>> {
        bail!(OFF)
    }
}

pub struct Labels<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub unit: &'a str,
}

pub fn flamegraph(
    _lines: &[String],
    _labels: &Labels<'_>,
    _negate: bool,
    _out: impl Write,
) -> Result<()> {
    bail!(OFF)
}
