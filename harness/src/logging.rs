//! Log levels (issue 16): error, warn, info, debug, trace through `tracing`, to two sinks.
//!
//! - **The terminal** (stderr) at the level of `-q` (errors only), `-v` (debug), `-vv`
//!   (trace); without those flags `RUST_LOG` when set (the usual `tracing`/`env_logger`
//!   directives: `RUST_LOG=debug`, `RUST_LOG=harness=trace,wgpu_core=info`), else info.
//!   A flag wins over `RUST_LOG`: it was typed for this very command. The format is short:
//!   `warning: …`, `error: …`, info as the plain message, `debug: …`; no time, no module.
//! - **`run.log`** in every run folder (bench, profile), always at debug for this
//!   workspace's crates and warn for the others, whatever the terminal shows, with times
//!   and levels: a surprising result can be explained afterwards without running again.
//!   Lines logged before the folder exists (the plan, the estimates) wait in a bounded
//!   buffer until [`attach_run_folder`] names it.
//!
//! Result tables stay on stdout (`println!`), and the one-line refusals that end a command
//! with exit code 2 are printed by [`crate::main`]: neither is a log line. The `log` crate's
//! records (wgpu, naga) come through the same filters. Log lines suspend the progress bar
//! ([`show_progress`]) so that they never tear it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use anyhow::{Result, anyhow};
use clap::{ArgAction, Args};
use indicatif::{ProgressBar, ProgressDrawTarget, WeakProgressBar};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{self, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The flags every command takes (`harness -v bench …` and `harness bench -v …` alike).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct LogFlags {
    /// Errors only on stderr: no warnings, notes or progress bar (overrides RUST_LOG).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More on stderr: -v debug (the plan, time estimates, probes, references), -vv
    /// trace (also each warm-up batch). Overrides RUST_LOG; without -q or -v, RUST_LOG (e.g. RUST_LOG=debug) sets
    /// the level, default info. A run folder's run.log is at debug whatever the level.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

/// This workspace's crates: their lines carry no target on the terminal, and run.log has
/// them at debug.
const OURS: [&str; 2] = ["harness", "kernels"];

/// What run.log records, whatever the terminal's level.
const RUN_LOG_DIRECTIVES: &str = "warn,harness=debug,kernels=debug";

/// Lines kept for run.log before the run folder exists (the plan of a large selection and
/// its estimates fit many times); beyond it, whole lines are dropped and counted.
const BUFFER_BYTES: usize = 4 << 20;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// Installs the terminal's and run.log's subscribers, once, before a command starts.
/// `RUST_LOG` that does not parse is an error (when no flag overrides it): a setting that
/// silently does nothing would leave the user wondering where the debug lines went.
pub fn init(flags: LogFlags) -> Result<()> {
    let terminal = terminal_filter(flags, std::env::var("RUST_LOG").ok().as_deref())?;
    let run_log = EnvFilter::builder()
        .parse(RUN_LOG_DIRECTIVES)
        .expect("valid directives");
    QUIET.store(flags.quiet, Ordering::SeqCst);
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .event_format(Short)
                .with_writer(|| Terminal)
                .with_filter(terminal),
        )
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(|| RunLog)
                .with_filter(run_log),
        )
        .try_init()
        .map_err(|e| anyhow!("the log could not be set up ({e}); report this as a bug"))?;
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(())
}

/// The terminal's filter: a flag, else `rust_log` when set and not empty, else info.
pub fn terminal_filter(flags: LogFlags, rust_log: Option<&str>) -> Result<EnvFilter> {
    let level = match (flags.quiet, flags.verbose) {
        (true, _) => Some(LevelFilter::ERROR),
        (false, 0) => None,
        (false, 1) => Some(LevelFilter::DEBUG),
        (false, 2..) => Some(LevelFilter::TRACE),
    };
    let directives = match (level, rust_log.map(str::trim)) {
        (Some(level), _) => ours_at(level),
        (None, Some(env)) if !env.is_empty() => {
            return EnvFilter::builder().parse(env).map_err(|e| {
                anyhow!(
                    "RUST_LOG={env}: {e}: give a level (RUST_LOG=debug) or crate=level pairs \
                     (RUST_LOG=harness=trace,wgpu_core=info), or unset it"
                )
            });
        }
        (None, _) => ours_at(LevelFilter::INFO),
    };
    Ok(EnvFilter::builder()
        .parse(&directives)
        .expect("valid directives"))
}

/// Our crates at `level`; the others (wgpu's, through the `log` bridge) at warn at most, so
/// that `-vv` does not drown the harness's lines in a driver's.
fn ours_at(level: LevelFilter) -> String {
    let others = if level == LevelFilter::ERROR || level == LevelFilter::OFF {
        level
    } else {
        LevelFilter::WARN
    };
    let mut s = others.to_string().to_lowercase();
    for crate_name in OURS {
        s.push_str(&format!(
            ",{crate_name}={}",
            level.to_string().to_lowercase()
        ));
    }
    s
}

// ---- the terminal ------------------------------------------------------------------------

/// `error: …`, `warning: …`, the plain message at info, `debug: …`, `trace: …`; other
/// crates' lines name their target (`warning: [wgpu_hal::vulkan] …`).
struct Short;

impl<S, N> FormatEvent<S, N> for Short
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        // A `log` record (wgpu, naga) carries its own target in its fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        write!(writer, "{}", prefix(*meta.level()))?;
        if !is_ours(meta.target()) {
            write!(writer, "[{}] ", meta.target())?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn prefix(level: Level) -> &'static str {
    if level == Level::ERROR {
        "error: "
    } else if level == Level::WARN {
        "warning: "
    } else if level == Level::INFO {
        ""
    } else if level == Level::DEBUG {
        "debug: "
    } else {
        "trace: "
    }
}

fn is_ours(target: &str) -> bool {
    OURS.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The bar that log lines suspend (weak: it goes when its owner drops it).
static BAR: Mutex<Option<WeakProgressBar>> = Mutex::new(None);

/// Where a progress bar draws: stderr (indicatif draws only when it is a terminal), or
/// nowhere with `-q`.
pub fn progress_target() -> ProgressDrawTarget {
    if QUIET.load(Ordering::SeqCst) {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// Makes log lines clear `bar` while they are written and redraw it after.
pub fn show_progress(bar: &ProgressBar) {
    *lock(&BAR) = Some(bar.downgrade());
}

/// stderr, with the live progress bar (if any) suspended around each line.
struct Terminal;

impl Write for Terminal {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = lock(&BAR)
            .as_ref()
            .and_then(WeakProgressBar::upgrade)
            .filter(|b| !b.is_finished());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

// ---- run.log -------------------------------------------------------------------------------

/// Where run.log's lines go.
enum Sink {
    /// No run folder yet: kept, up to [`BUFFER_BYTES`] (`dropped` bytes beyond it).
    Buffer { bytes: Vec<u8>, dropped: usize },
    /// The run folder's log.
    File(File, PathBuf),
    /// The log could not be written (a full disk): no more lines.
    Off,
}

static RUN_LOG: Mutex<Sink> = Mutex::new(Sink::Buffer {
    bytes: Vec::new(),
    dropped: 0,
});

/// A panic elsewhere while a lock was held must not silence the log.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends each formatted line (one `write` per event) to the buffer or the file.
struct RunLog;

impl Write for RunLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut sink = lock(&RUN_LOG);
        match &mut *sink {
            Sink::Buffer { bytes, dropped } => {
                if bytes.len() + buf.len() <= BUFFER_BYTES {
                    bytes.extend_from_slice(buf);
                } else {
                    *dropped += buf.len();
                }
            }
            Sink::File(file, path) => {
                if let Err(e) = file.write_all(buf) {
                    // Not through tracing: this is the log's own writer.
                    eprintln!(
                        "warning: {}: {e}; the rest of this run's log is not saved",
                        path.display()
                    );
                    *sink = Sink::Off;
                }
            }
            Sink::Off => {}
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts `run.log` in `dir` (`run-1.log`, … when one is there already: `profile --into`
/// a folder twice) with the lines logged so far, and sends it every later line. Without
/// [`init`] (the library used from a test) there is no log and nothing is written. A log
/// that cannot be written is a warning, never a reason to stop the run.
pub fn attach_run_folder(dir: &Path) {
    if !INSTALLED.load(Ordering::SeqCst) {
        return;
    }
    let stem = crate::profile::files::unique_stem(dir, "run", &["{}.log"]);
    let path = dir.join(format!("{stem}.log"));
    let opened = OpenOptions::new().create_new(true).append(true).open(&path);
    let failed = {
        let mut sink = lock(&RUN_LOG);
        let earlier = match std::mem::replace(&mut *sink, Sink::Off) {
            Sink::Buffer { bytes, dropped } => earlier_lines(bytes, dropped),
            Sink::File(..) | Sink::Off => Vec::new(),
        };
        match opened.and_then(|mut f| f.write_all(&earlier).map(|()| f)) {
            Ok(file) => {
                *sink = Sink::File(file, path.clone());
                None
            }
            Err(e) => Some(e),
        }
    };
    match failed {
        None => tracing::debug!("log: {}", path.display()),
        Some(e) => tracing::warn!("{}: {e}; this run has no debug log", path.display()),
    }
}

/// The buffered lines, then a line saying how much came after them and did not fit.
fn earlier_lines(mut bytes: Vec<u8>, dropped: usize) -> Vec<u8> {
    if dropped > 0 {
        bytes.extend(
            format!(
                "({dropped} bytes of lines logged before the run folder existed are missing \
                 here: the buffer for them holds {BUFFER_BYTES} bytes)\n"
            )
            .into_bytes(),
        );
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(quiet: bool, verbose: u8) -> LogFlags {
        LogFlags { quiet, verbose }
    }

    #[test]
    fn flags_win_over_rust_log_and_rust_log_over_the_default() {
        let f = |fl, env| terminal_filter(fl, env).unwrap().to_string();
        assert!(f(flags(false, 0), None).contains("harness=info"));
        assert!(f(flags(false, 0), Some("  ")).contains("harness=info"));
        assert_eq!(f(flags(false, 0), Some("debug")), "debug");
        assert!(f(flags(true, 0), Some("debug")).contains("harness=error"));
        assert!(f(flags(false, 1), Some("error")).contains("harness=debug"));
        assert!(f(flags(false, 3), None).contains("harness=trace"));
    }

    #[test]
    fn others_stay_at_warn_unless_quiet() {
        assert_eq!(
            ours_at(LevelFilter::TRACE),
            "warn,harness=trace,kernels=trace"
        );
        assert_eq!(
            ours_at(LevelFilter::ERROR),
            "error,harness=error,kernels=error"
        );
    }

    #[test]
    fn a_malformed_rust_log_is_one_line_naming_it() {
        let e = terminal_filter(flags(false, 0), Some("harness=loud")).unwrap_err();
        let line = e.to_string();
        assert!(
            line.contains("RUST_LOG=harness=loud") && !line.contains('\n'),
            "{line}"
        );
        // A flag makes RUST_LOG irrelevant, malformed or not.
        assert!(terminal_filter(flags(false, 1), Some("harness=loud")).is_ok());
    }

    #[test]
    fn prefixes_and_targets() {
        assert_eq!(prefix(Level::WARN), "warning: ");
        assert_eq!(prefix(Level::INFO), "");
        assert!(is_ours("harness::cmd::bench") && is_ours("kernels"));
        assert!(!is_ours("harnessed") && !is_ours("wgpu_core::device"));
    }

    #[test]
    fn dropped_lines_are_said_after_the_kept_ones() {
        assert_eq!(earlier_lines(b"a\n".to_vec(), 0), b"a\n");
        let text = String::from_utf8(earlier_lines(b"a\n".to_vec(), 7)).unwrap();
        assert!(
            text.starts_with("a\n(7 bytes") && text.ends_with(")\n"),
            "{text}"
        );
    }
}
