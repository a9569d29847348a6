//! One build of the harness as a child process speaking the rounds protocol (`bench
//! --rounds-out -`, documented in `cmd/bench/rounds_out.rs`): started, checked, asked for
//! rounds, and killed if it is still running when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::cmd::bench::ROUNDS_PROTOCOL;

/// How long a child may take to say which protocol it speaks (it says so before building
/// anything).
const HELLO_WITHIN: Duration = Duration::from_secs(30);

/// One variant's state in a child after the gate and warm-up.
#[derive(Clone, Debug)]
pub struct Ready {
    pub variant: String,
    /// ok, failed, skipped or n/a.
    pub status: String,
    pub reason: String,
}

/// One round's answer: seconds per run of each variant still timed, and the failed ones.
pub struct RoundTimes {
    pub seconds: BTreeMap<String, f64>,
    pub failed: BTreeMap<String, String>,
}

/// A running child.
pub struct Side {
    pub binary: PathBuf,
    pub git_commit: String,
    process: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Side {
    /// Starts `binary` with the protocol's arguments and waits for its first line, which must
    /// name this build's protocol version.
    pub fn start(binary: &Path, args: &[String]) -> Result<Side> {
        let mut process = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start {} ({e}): give the path of a harness binary",
                    binary.display()
                )
            })?;
        let (stdout, stderr_pipe) = (process.stdout.take(), process.stderr.take());
        let stdin = process.stdin.take().expect("stdin is piped");
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout.expect("stdout is piped")).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe
                .expect("stderr is piped")
                .read_to_string(&mut text);
            *sink.lock().expect("not poisoned") = text;
        });
        let mut side = Side {
            binary: binary.to_path_buf(),
            git_commit: String::new(),
            process,
            stdin,
            lines,
            stderr,
        };
        side.hello()?;
        Ok(side)
    }

    /// The first line: `{"protocol": N, ...}` with this build's N, else a refusal.
    fn hello(&mut self) -> Result<()> {
        let first = self.line(Some(HELLO_WITHIN));
        let hello: Option<Value> = first
            .as_ref()
            .ok()
            .and_then(|l| serde_json::from_str(l).ok());
        let Some(protocol) = hello.as_ref().and_then(|h| h["protocol"].as_u64()) else {
            let said = match first {
                Ok(line) => line,
                Err(e) => e.to_string(),
            };
            bail!(
                "{} does not speak the rounds protocol of `compare --against-bin` ({}): build it \
                 from a commit that has it",
                self.binary.display(),
                one_line(&said)
            );
        };
        if protocol != ROUNDS_PROTOCOL {
            bail!(
                "{} speaks rounds protocol {protocol}, this build {ROUNDS_PROTOCOL}: build both \
                 from commits with the same protocol",
                self.binary.display()
            );
        }
        self.git_commit = hello
            .and_then(|h| h["git_commit"].as_str().map(String::from))
            .unwrap_or_default();
        Ok(())
    }

    /// The `ready` line: every selected variant's state (waits as long as the child takes
    /// to prepare and validate them).
    pub fn ready(&mut self) -> Result<Vec<Ready>> {
        let line = self.line(None)?;
        let parsed: Value = serde_json::from_str(&line).unwrap_or_default();
        let Some(list) = parsed["ready"].as_array() else {
            bail!(
                "{}: expected its `ready` line, got `{}`",
                self.binary.display(),
                one_line(&line)
            );
        };
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
        Ok(list
            .iter()
            .map(|v| Ready {
                variant: text(v, "variant"),
                status: text(v, "status"),
                reason: text(v, "reason"),
            })
            .collect())
    }

    /// Asks for one round and reads its times.
    pub fn round(&mut self) -> Result<RoundTimes> {
        if let Err(e) = writeln!(self.stdin, "round").and_then(|()| self.stdin.flush()) {
            let why = self.last_words();
            bail!(
                "{} stopped taking requests ({e}): {why}",
                self.binary.display()
            );
        }
        let line = self.line(None)?;
        let parsed: Value = serde_json::from_str(&line).unwrap_or_default();
        let (Some(seconds), Some(failed)) =
            (parsed["seconds"].as_object(), parsed["failed"].as_object())
        else {
            bail!(
                "{}: expected a `round` line, got `{}`",
                self.binary.display(),
                one_line(&line)
            );
        };
        Ok(RoundTimes {
            seconds: seconds
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect(),
            failed: failed
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
        })
    }

    /// Asks the child to end, and waits a moment for it (it is killed when dropped).
    pub fn quit(&mut self) {
        let _ = writeln!(self.stdin, "quit").and_then(|()| self.stdin.flush());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.process.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The child's next line, within `timeout` if given; an error saying what the child
    /// last wrote on stderr when it ended instead.
    fn line(&mut self, timeout: Option<Duration>) -> Result<String> {
        let received = match timeout {
            Some(t) => self.lines.recv_timeout(t),
            None => self
                .lines
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                bail!(
                    "{} said nothing within {} s",
                    self.binary.display(),
                    timeout.unwrap_or_default().as_secs()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                let why = self.last_words();
                bail!("{} stopped: {why}", self.binary.display())
            }
        }
    }

    /// The last line the child wrote on stderr (after it ended), or its exit status.
    fn last_words(&mut self) -> String {
        let status = self
            .process
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_default();
        // The stderr thread finishes once the pipe closes, just after the process ends.
        std::thread::sleep(Duration::from_millis(50));
        let text = self.stderr.lock().expect("not poisoned").clone();
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map_or(status, |l| one_line(l.trim()))
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            let _ = self.process.kill();
        }
        let _ = self.process.wait();
    }
}

/// At most one line of at most 200 characters, for a one-line error.
fn one_line(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(200).collect();
    if cut.len() < first.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The first line `binary --version` prints (within 10 s), which for a harness is
/// `harness <version>`.
pub fn version_of(binary: &Path) -> Result<String> {
    let mut process = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "--against-bin {}: cannot run it ({e}); give the path of another build's harness \
                 binary (e.g. ../old-target/release/harness)",
                binary.display()
            )
        })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(process.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = process.kill();
            let _ = process.wait();
            bail!(
                "--against-bin {}: `--version` did not answer within 10 s: not a harness binary",
                binary.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut text = String::new();
    let _ = process
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut text);
    Ok(one_line(text.trim()))
}
