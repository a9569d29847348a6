//! Protocol 1's messages (docs/external.md), one JSON object per line: what the harness
//! sends, and the one answer it accepts for each.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

/// The protocol this harness speaks.
pub const PROTOCOL: u64 = 1;

/// `{"op":"problem", ...}`: a problem to prepare; answered by `ready` (or `error`).
#[derive(Serialize)]
pub struct Problem<'a> {
    pub op: &'static str,
    pub protocol: u64,
    pub kernel: &'a str,
    pub case: &'a str,
    pub precision: &'a str,
    pub params: BTreeMap<String, Value>,
    pub inputs: BTreeMap<String, PathBuf>,
    pub output: PathBuf,
}

/// `{"op":"run","count":N}` as a line.
pub fn run_line(count: u64) -> String {
    format!("{{\"op\":\"run\",\"count\":{count}}}")
}

/// `{"op":"quit"}` as a line.
pub const QUIT: &str = "{\"op\":\"quit\"}";

/// An answer of the worker, decoded.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Ready {
        setup_s: f64,
    },
    Done {
        count: u64,
        seconds_per_run: f64,
    },
    /// The worker cannot do this problem; `skip`: for a reason of the machine, not a bug.
    Error {
        message: String,
        skip: bool,
    },
}

/// Decodes one line, or says in one line why it is not an answer of protocol 1.
pub fn decode(worker: &str, line: &str) -> Result<Answer, String> {
    let garbage = || {
        format!(
            "worker {worker} answered garbage `{}`: stdout must carry only protocol lines, one \
             JSON object each (print other output to stderr)",
            shorten(line)
        )
    };
    let value: Value = serde_json::from_str(line).map_err(|_| garbage())?;
    let op = value
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(garbage)?;
    let number = |key: &str| value.get(key).and_then(Value::as_f64);
    match op {
        "ready" => {
            let protocol = value.get("protocol").and_then(Value::as_u64);
            if protocol != Some(PROTOCOL) {
                let said = protocol.map_or("no version".to_string(), |p| format!("protocol {p}"));
                return Err(format!(
                    "worker {worker} speaks {said}, this harness speaks {PROTOCOL}: update the \
                     worker or the harness"
                ));
            }
            Ok(Answer::Ready {
                setup_s: number("setup_s").unwrap_or(f64::NAN),
            })
        }
        "done" => {
            let seconds = number("seconds_per_run").filter(|s| s.is_finite() && *s >= 0.0);
            match (value.get("count").and_then(Value::as_u64), seconds) {
                (Some(count), Some(seconds_per_run)) => Ok(Answer::Done {
                    count,
                    seconds_per_run,
                }),
                _ => Err(format!(
                    "worker {worker} answered `{}`: `done` needs a count and a finite \
                     seconds_per_run ≥ 0",
                    shorten(line)
                )),
            }
        }
        "error" => Ok(Answer::Error {
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            skip: value.get("skip").and_then(Value::as_bool).unwrap_or(false),
        }),
        _ => Err(garbage()),
    }
}

/// A line cut to 80 characters for a message.
pub fn shorten(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_refusals() {
        let ready = decode("w", r#"{"op":"ready","protocol":1,"setup_s":0.5}"#);
        assert_eq!(ready, Ok(Answer::Ready { setup_s: 0.5 }));
        let done = decode("w", r#"{"op":"done","count":3,"seconds_per_run":0.01}"#);
        assert_eq!(
            done,
            Ok(Answer::Done {
                count: 3,
                seconds_per_run: 0.01
            })
        );
        let v2 = decode("w", r#"{"op":"ready","protocol":2}"#).unwrap_err();
        assert!(
            v2.contains("speaks protocol 2, this harness speaks 1"),
            "{v2}"
        );
        let none = decode("w", r#"{"op":"ready"}"#).unwrap_err();
        assert!(none.contains("speaks no version"), "{none}");
        assert!(decode("w", "hello").unwrap_err().contains("garbage"));
        assert!(
            decode("w", r#"{"op":"dance"}"#)
                .unwrap_err()
                .contains("garbage")
        );
        let nan = decode("w", r#"{"op":"done","count":1,"seconds_per_run":-1}"#);
        assert!(nan.unwrap_err().contains("finite"));
        let skip = decode("w", r#"{"op":"error","skip":true,"message":"no numba"}"#);
        assert_eq!(
            skip,
            Ok(Answer::Error {
                message: "no numba".into(),
                skip: true
            })
        );
    }
}
