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
///
/// Written for people as `n=32 oversampling=3` (its [`Display`](fmt::Display), the `params`
/// column of results.csv); serde reads and writes that same text, so result rows keep
/// their parameters typed from the command line to the report.
#[derive(Clone, Debug, Default)]
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

    /// The same parameters less `name` (rows that differ only in their size parameter form
    /// one scaling curve).
    pub fn without(&self, name: &str) -> Params {
        let mut rest = self.clone();
        rest.0.remove(name);
        rest
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

impl Ord for Params {
    /// By name, then by value (a total order, [`f64::total_cmp`]): the report sorts sizes
    /// numerically and groups rows by their parameters.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (mut a, mut b) = (self.0.iter(), other.0.iter());
        loop {
            match (a.next(), b.next()) {
                (None, None) => return std::cmp::Ordering::Equal,
                (None, Some(_)) => return std::cmp::Ordering::Less,
                (Some(_), None) => return std::cmp::Ordering::Greater,
                (Some((ka, va)), Some((kb, vb))) => {
                    let o = ka.cmp(kb).then(va.total_cmp(vb));
                    if o.is_ne() {
                        return o;
                    }
                }
            }
        }
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Params {}

impl PartialOrd for Params {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::str::FromStr for Params {
    type Err = KernelError;

    /// Reads back what [`Display`](fmt::Display) wrote: `name=value` pairs separated by
    /// spaces (an empty text is no parameter).
    fn from_str(text: &str) -> Result<Params, KernelError> {
        text.split_whitespace()
            .map(|pair| {
                let bad = |why: &str| {
                    KernelError::Input(format!(
                        "parameters `{text}`: `{pair}` {why} (expected name=value pairs such as `n=32 oversampling=3`)"
                    ))
                };
                let (name, value) = pair.split_once('=').ok_or_else(|| bad("has no `=`"))?;
                let value: f64 = value.parse().map_err(|_| bad("is not a number"))?;
                if name.is_empty() || !value.is_finite() {
                    return Err(bad("is not a finite named value"));
                }
                Ok((name.to_string(), value))
            })
            .collect::<Result<_, _>>()
            .map(Params)
    }
}

impl serde::Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
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
    fn text_round_trips_and_orders_by_value() {
        let p = Params::default().with("n", 64.0).with("oversampling", 3.5);
        assert_eq!(p.to_string(), "n=64 oversampling=3.5");
        assert_eq!(p.to_string().parse::<Params>().unwrap(), p);
        assert_eq!("".parse::<Params>().unwrap(), Params::default());
        for bad in ["n", "n=abc", "=3", "n=nan", "n=inf"] {
            assert!(bad.parse::<Params>().is_err(), "{bad}");
        }
        let small = Params::default().with("n", 8.0);
        let large = Params::default().with("n", 16.0);
        assert!(small < large, "by value, not by text (\"16\" < \"8\")");
        assert_eq!(p.without("n").to_string(), "oversampling=3.5");
    }

    #[test]
    fn rejects_what_is_not_in_the_domain() {
        assert_eq!(N.parse("64").unwrap(), 64.0);
        for bad in ["0", "-3", "2.5", "abc", "1e9", "nan"] {
            let e = N.parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("parameter --n"), "{bad}: {e}");
        }
    }
}
