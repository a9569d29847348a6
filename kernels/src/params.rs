//! Kernel parameters: each kernel declares them once ([`ParamSpec`]); the harness turns them
//! into command-line flags named after them (`--n 64 --oversampling 3`) and hands the values
//! back as [`Params`], checked against the declared kind and range.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::KernelError;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// A finite real in `min..=max`.
    Float { min: f64, max: f64 },
    /// 0 or 1 (`--preflight 1`).
    Flag,
    /// One of a fixed set of integers (e.g. AIA channels).
    Choice(&'static [i64]),
}

#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: ParamKind,
    pub default: f64,
    /// Whether this parameter sets the problem's size (swept for scaling curves).
    pub is_size: bool,
}

impl ParamSpec {
    /// Parses and range-checks one value given on the command line.
    pub fn parse(&self, text: &str) -> Result<f64, KernelError> {
        let bad = |reason: String| KernelError::invalid(self.name, text, reason);
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| bad("not a number".to_string()))?;
        self.check(v).map_err(bad)?;
        Ok(v)
    }

    pub fn check(&self, v: f64) -> Result<(), String> {
        if !v.is_finite() {
            return Err("must be finite".into());
        }
        match self.kind {
            ParamKind::Int { min, max } => {
                if v.fract() != 0.0 {
                    return Err("must be an integer".into());
                }
                if v < min as f64 || v > max as f64 {
                    return Err(format!("must be between {min} and {max}"));
                }
            }
            ParamKind::Float { min, max } => {
                if v < min || v > max {
                    return Err(format!("must be between {min} and {max}"));
                }
            }
            ParamKind::Flag => {
                if v != 0.0 && v != 1.0 {
                    return Err("must be 0 or 1".into());
                }
            }
            ParamKind::Choice(set) => {
                if v.fract() != 0.0 || !set.contains(&(v as i64)) {
                    return Err(format!("must be one of {set:?}"));
                }
            }
        }
        Ok(())
    }
}

/// Parameter values by name. Built from a kernel's defaults, then overridden.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Params(BTreeMap<String, f64>);

impl Params {
    pub fn defaults(specs: &[ParamSpec]) -> Params {
        Params(
            specs
                .iter()
                .map(|s| (s.name.to_string(), s.default))
                .collect(),
        )
    }

    pub fn with(mut self, name: &str, value: f64) -> Params {
        self.0.insert(name.to_string(), value);
        self
    }

    pub fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Result<f64, KernelError> {
        self.0.get(name).copied().ok_or_else(|| {
            KernelError::invalid(
                name,
                "(missing)",
                "this kernel needs it; see `harness list`",
            )
        })
    }

    pub fn usize(&self, name: &str) -> Result<usize, KernelError> {
        let v = self.get(name)?;
        if v.fract() != 0.0 || v < 0.0 {
            return Err(KernelError::invalid(
                name,
                v,
                "must be a non-negative integer",
            ));
        }
        Ok(v as usize)
    }

    pub fn flag(&self, name: &str) -> Result<bool, KernelError> {
        Ok(self.get(name)? != 0.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Checks every value against the specs (range, integer-ness).
    pub fn validate(&self, specs: &[ParamSpec]) -> Result<(), KernelError> {
        for spec in specs {
            let v = self.get(spec.name)?;
            spec.check(v)
                .map_err(|reason| KernelError::invalid(spec.name, v, reason))?;
        }
        Ok(())
    }
}

impl fmt::Display for Params {
    /// `n=32 oversampling=3`: the size column of reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: ParamSpec = ParamSpec {
        name: "n",
        help: "",
        kind: ParamKind::Int { min: 1, max: 512 },
        default: 32.0,
        is_size: true,
    };

    #[test]
    fn rejects_what_is_not_in_the_domain() {
        assert_eq!(N.parse("64").unwrap(), 64.0);
        for bad in ["0", "-3", "2.5", "abc", "1e9", "nan"] {
            let e = N.parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("parameter --n"), "{bad}: {e}");
        }
    }
}
