//! One worker process: started with its entry's command line, environment and folder,
//! spoken to over stdin/stdout with a timeout on every answer, its stderr's last lines
//! kept. Any fault ends it: the last stderr lines go to `<run>/external/<name>.stderr.txt`,
//! the process is killed and reaped, and the reason is kept for every later call.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::protocol::{self, Answer};
use super::registry::Entry;

/// Lines of stderr kept for the run folder.
pub const STDERR_LINES: usize = 20;

/// Longest stdout line read (a real answer is under a hundred bytes).
const MAX_LINE: usize = 1 << 16;

/// A running worker, or the reason it stopped.
pub struct Worker {
    pub entry: Arc<Entry>,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<Result<String, String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Where the stderr lines go on a fault.
    stderr_file: PathBuf,
    /// Set once a fault ended the process.
    pub dead: Option<String>,
    /// The problem the worker holds now (its key), so that a variant of another problem
    /// sends its own first.
    pub current: Option<String>,
}

impl Worker {
    /// Starts the process. The error says what to do: the command, and the set-up hint.
    pub fn start(entry: Arc<Entry>, stderr_file: PathBuf) -> Result<Worker, String> {
        let mut command = Command::new(&entry.command[0]);
        command
            .args(&entry.command[1..])
            .envs(&entry.env)
            .current_dir(&entry.workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A process group of its own: a terminal's Ctrl-C, and `timeout`'s SIGTERM, go to
        // the whole foreground group, and a worker in ours died of them in the middle of a
        // run, its row "failed while timing" and an interleaved run's finished rounds of
        // it lost with its ratios. Only the harness stops it now: the round in progress
        // ends, as ours do, and a second Ctrl-C exits at once, after which the worker ends
        // at the end of its input (protocol 1).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| {
            format!(
                "worker {} cannot start `{}` in {} ({e}){}",
                entry.name,
                entry.command.join(" "),
                entry.workdir.display(),
                setup_hint(&entry)
            )
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || read_lines(BufReader::new(stdout), tx));
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr);
        std::thread::spawn(move || keep_tail(BufReader::new(stderr_pipe), &tail));
        Ok(Worker {
            entry,
            child: Some(child),
            stdin,
            lines,
            stderr,
            stderr_file,
            dead: None,
            current: None,
        })
    }

    /// CPU seconds the worker process has used so far, user and system, all its threads
    /// (Linux's `/proc/PID/stat`); None elsewhere, or once the process has stopped.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        crate::measure::cpu_time::of_process(&pid.to_string())
    }

    /// Sends one line and waits for the answer, within the entry's timeout. An `error`
    /// answer is returned as such (the worker stays); anything else that is not an answer
    /// is a fault that ends the worker.
    pub fn ask(&mut self, line: &str, what: &str) -> Result<Answer, String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        let answer = self.exchange(line, what);
        answer.map_err(|why| self.fault(why))
    }

    fn exchange(&mut self, line: &str, what: &str) -> Result<Answer, String> {
        let name = self.entry.name.clone();
        let stdin = self.stdin.as_mut().expect("open while alive");
        let sent = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        if let Err(e) = sent {
            return Err(format!(
                "worker {name} closed its input before `{what}` ({e}){}",
                self.exit_note()
            ));
        }
        let timeout = Duration::from_secs_f64(self.entry.timeout_s);
        match self.lines.recv_timeout(timeout) {
            Ok(Ok(text)) => protocol::decode(&name, &text),
            Ok(Err(e)) => Err(format!("worker {name}: {e}")),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "worker {name} gave no answer to `{what}` within {} s (timeout_s in {}): \
                 killed",
                self.entry.timeout_s,
                self.entry.file.display()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "worker {name} exited before answering `{what}`{}",
                self.exit_note()
            )),
        }
    }

    /// Ends the worker for `why`: stderr saved, process killed and reaped. Returns the
    /// reason with where the stderr lines are.
    pub fn fault(&mut self, why: String) -> String {
        self.stop(false);
        let saved = self.save_stderr();
        let why = match saved {
            Some(file) => format!("{why} (its stderr: {})", file.display()),
            None => why,
        };
        self.dead = Some(why.clone());
        why
    }

    /// Asks the worker to quit (when `polite`), then kills and reaps it after a moment.
    pub fn stop(&mut self, polite: bool) {
        if polite
            && self.dead.is_none()
            && let Some(stdin) = self.stdin.as_mut()
        {
            let _ = writeln!(stdin, "{}", protocol::QUIT).and_then(|()| stdin.flush());
        }
        self.stdin = None;
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_millis(if polite { 2000 } else { 0 });
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        if self.dead.is_none() {
            self.dead = Some(format!("worker {} was stopped", self.entry.name));
        }
    }

    /// The exit status, when the process has ended (waiting a moment for it to).
    fn exit_note(&mut self) -> String {
        let Some(child) = self.child.as_mut() else {
            return String::new();
        };
        for _ in 0..50 {
            if let Ok(Some(status)) = child.try_wait() {
                return format!(" ({status})");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        String::new()
    }

    /// Writes the last stderr lines to the run folder; the file, when written.
    fn save_stderr(&self) -> Option<PathBuf> {
        // The reader thread may still be draining the pipe of a process that just ended.
        std::thread::sleep(Duration::from_millis(50));
        let lines: Vec<String> = self.stderr.lock().ok()?.iter().cloned().collect();
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::create_dir_all(self.stderr_file.parent()?).ok()?;
        std::fs::write(&self.stderr_file, text).ok()?;
        Some(self.stderr_file.clone())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop(true);
    }
}

/// `; set up with: <setup>` when the entry says how.
pub fn setup_hint(entry: &Entry) -> String {
    entry
        .setup
        .as_ref()
        .map(|s| format!("; set up with: {s}"))
        .unwrap_or_default()
}

/// Forwards stdout lines; a line longer than [`MAX_LINE`] or not UTF-8 is an error.
fn read_lines(mut out: impl BufRead, tx: std::sync::mpsc::Sender<Result<String, String>>) {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read =
            std::io::Read::take(out.by_ref(), MAX_LINE as u64 + 1).read_until(b'\n', &mut buf);
        let line = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if buf.len() > MAX_LINE => Err(format!(
                "a stdout line over {MAX_LINE} bytes: not a protocol answer"
            )),
            Ok(_) => String::from_utf8(buf.clone())
                .map(|s| s.trim_end().to_string())
                .map_err(|_| "a stdout line that is not UTF-8: not a protocol answer".into()),
        };
        let stop = line.is_err();
        if tx.send(line).is_err() || stop {
            return;
        }
    }
}

/// Keeps the last [`STDERR_LINES`] lines of stderr.
fn keep_tail(err: impl BufRead, tail: &Mutex<VecDeque<String>>) {
    for line in err.lines() {
        let Ok(line) = line else { return };
        let Ok(mut t) = tail.lock() else { return };
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// Refuses a path outside the run folder (or with `..` in it): a worker is never told to
/// read or write anywhere else.
pub fn inside(run: &Path, path: &Path) -> Result<(), String> {
    let climbs = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if path.is_absolute() && path.starts_with(run) && !climbs {
        Ok(())
    } else {
        Err(format!(
            "refused to send {} to a worker: it is outside the run folder {}",
            path.display(),
            run.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_run_folder_are_refused() {
        // Any absolute folder will do: the check is on the path's components.
        let base = std::env::temp_dir();
        let run = &base.join("run");
        assert!(inside(run, &run.join("external/a.npy")).is_ok());
        assert!(inside(run, &run.join("../etc/passwd")).is_err());
        assert!(inside(run, &base.join("other/a.npy")).is_err());
        assert!(inside(run, &base.join("run-2/a.npy")).is_err());
        assert!(inside(run, Path::new("external/a.npy")).is_err());
    }
}
