//! The machine fingerprint written into every result row: enough to know, later, on what a
//! number was measured (and never to mistake a software GPU for a real one).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    /// What the CPU reports / what this build was compiled for.
    pub simd: String,
    pub memory_gib: f64,
    pub os: String,
    pub gpu_adapter: String,
    /// DiscreteGpu, IntegratedGpu, Cpu (software), ... or "none".
    pub gpu_type: String,
    pub gpu_backend: String,
    pub rustc: String,
    pub git_commit: String,
}

impl Machine {
    /// What identifies the machine across runs (CPU model, cores, memory, OS): the key of
    /// the kept ceilings, written as the report writes its machine keys.
    pub fn fingerprint(&self) -> String {
        format!(
            "{} | {} cores | {:.1} GiB | {}",
            self.cpu, self.cores, self.memory_gib, self.os
        )
    }

    /// Everything but the GPU (whose probe starts a driver: seconds on a software one): what
    /// [`Machine::fingerprint`] needs, for a command that only looks its rows up.
    pub fn identity() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("PRETTY_NAME=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            })
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        Machine {
            cpu,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            simd: format!(
                "{} (built for {})",
                kernels::simd::level(),
                kernels::simd::compiled()
            ),
            memory_gib: (memory_kib / 1048576.0 * 10.0).round() / 10.0,
            os,
            gpu_adapter: String::new(),
            gpu_type: String::new(),
            gpu_backend: String::new(),
            rustc: env!("HARNESS_RUSTC_VERSION").to_string(),
            git_commit: git_commit(),
        }
    }

    /// The machine this runs on, GPU adapter included.
    pub fn detect() -> Machine {
        let (gpu_adapter, gpu_type, gpu_backend) = match kernels::gpu::adapter() {
            Ok(a) => (
                a.name,
                if a.software {
                    format!("{} (software)", a.device_type)
                } else {
                    a.device_type
                },
                a.backend,
            ),
            Err(why) => (format!("none: {why}"), "none".into(), "none".into()),
        };
        Machine {
            gpu_adapter,
            gpu_type,
            gpu_backend,
            ..Machine::identity()
        }
    }
}

/// The commit of the source this binary was built from (`-dirty` with local changes), from
/// git in the source folder at run time; `unknown` without git.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        None => "unknown".into(),
    }
}
