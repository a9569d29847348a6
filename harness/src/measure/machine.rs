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
        let cpu = cpu_name(&cpuinfo);
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

/// The CPU as `/proc/cpuinfo` names it, with the numbers that tell its generation: x86's
/// family, model and stepping (`AMD EPYC (family 25, model 17, stepping 1)`), Arm's
/// implementer and part. A virtual machine may give only a brand as its model name: two
/// sessions of this project's 2-core machines both said "AMD EPYC", one a Zen 4 (family
/// 25) whose f64 GEMM peak measured 108 GFLOP/s, the other ~200; the `lanes`
/// deconvolution ran 1.5× slower on the first, aiapy's NumPy 1.07× (1000²) to 1.33×
/// (4096²) slower: ratios between variants move with the host too. Under one
/// name, the kept ceilings ([`super::ceilings_store`]) and the planner would have mixed
/// them. The architecture's name where there is no model name at all.
pub fn cpu_name(cpuinfo: &str) -> String {
    // The first processor's fields: every core of one machine reports the same.
    let field = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let name = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let ids = |fields: &[(&str, &str)]| -> Vec<String> {
        let id = |(label, key): &(&str, &str)| Some(format!("{label} {}", field(key)?));
        fields.iter().filter_map(id).collect()
    };
    let x86 = ids(&[
        ("family", "cpu family"),
        ("model", "model"),
        ("stepping", "stepping"),
    ]);
    let id = match x86.is_empty() {
        true => ids(&[("implementer", "CPU implementer"), ("part", "CPU part")]),
        false => x86,
    };
    match id.is_empty() {
        true => name,
        false => format!("{name} ({})", id.join(", ")),
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

#[cfg(test)]
mod tests {
    use super::cpu_name;

    /// Two x86 machines under one model name are two names; the fields are read from the
    /// first processor, `model` not confused with `model name`.
    #[test]
    fn the_cpu_name_tells_generations_apart() {
        let zen4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
                    model\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\n\n\
                    processor\t: 1\ncpu family\t: 25\nmodel\t\t: 17\n";
        let zen5 = zen4.replace(": 25", ": 26").replace(": 17", ": 2");
        assert_eq!(cpu_name(zen4), "AMD EPYC (family 25, model 17, stepping 1)");
        assert_eq!(cpu_name(&zen5), "AMD EPYC (family 26, model 2, stepping 1)");
    }

    #[test]
    fn arm_parts_and_bare_files_are_named_too() {
        let arm = "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\n\
                   CPU part\t: 0xd0c\n";
        let arch = std::env::consts::ARCH;
        assert_eq!(
            cpu_name(arm),
            format!("{arch} (implementer 0x41, part 0xd0c)")
        );
        assert_eq!(cpu_name(""), arch);
        assert_eq!(cpu_name("model name\t: Some CPU\n"), "Some CPU");
    }
}
