//! Injected GPU faults and a lowered binding limit, for testing what the harness does when
//! a device misbehaves (issue 19, "Bad input and faults") on any adapter, lavapipe included.
//!
//! `HARNESS_GPU_FAULT=KIND[:TARGET]`, read once, when the GPU context is first created:
//!
//! | KIND          | what happens (through wgpu, as on a real driver)                              |
//! |---------------|-------------------------------------------------------------------------------|
//! | `device-lost` | `Device::destroy()` right after the first submission of an encoder whose label contains TARGET (any encoder without one); once per process, and the next variant gets a new device |
//! | `oom`         | buffer allocations whose label contains TARGET (all without one) fail with wgpu's out-of-memory error, caught by the OUT_OF_MEMORY error scope: the instance gets a 1 % memory-budget threshold and those allocations ask for the largest buffer (see below for adapters without a memory budget) |
//! | `shader`      | compiling the pipeline whose name contains TARGET (all without one) meets a WGSL syntax error, reported by the validation scope as a real compile failure is |
//! | `no-f64`      | the device is requested without SHADER_F64: every f64 variant is skipped because the adapter "has no SHADER_F64" (no TARGET) |
//!
//! `HARNESS_GPU_MAX_BINDING=BYTES` requests the device with at most that many bytes per
//! storage binding (and per buffer), so that the size checks of every GPU variant can be
//! met at tiny sizes: a variant whose largest binding is above it is skipped with a reason
//! naming both sizes.
//!
//! What cannot be injected this way: a loss in the middle of a dispatch (wgpu loses the
//! device only between submissions: `destroy` waits for the queue to drain), and, on
//! lavapipe, an out-of-memory error from wgpu at all: wgpu's budget check needs
//! VK_EXT_memory_budget, which lavapipe (Mesa 22) lacks, and the driver itself never runs
//! out (it overcommits host memory; wgpu's largest buffer, 2 GiB, always fits). There the
//! aimed allocation succeeds and the GPU plumbing refuses it right after, with the message
//! the OUT_OF_MEMORY scope gives, saying that the refusal is its own. The rows, the exit
//! code and the rest of the run behave as they would after a real one.
//!
//! `HARNESS_GPU_MAX_WORKGROUP_STORAGE=BYTES` requests the device with at most that many
//! bytes of `var<workgroup>` memory per workgroup, so that the shared-memory FFT's plans
//! (one dispatch where a line fits, the four-step where its two factors fit, Stockham
//! beyond: `gpu::fft_shared`, `gpu::fft_four_step`) can be forced at sizes a software
//! adapter runs in seconds (e.g. 2048 bytes: f64 columns of 256 points take the four-step,
//! as f64 columns of 4096 do on an NVIDIA GPU's 48 KiB).
//!
//! All three variables are parsed strictly; [`crate::check_environment`] refuses a bad value
//! before a program runs anything.

use crate::error::KernelError;

/// The environment variable that injects a fault.
pub const FAULT_VAR: &str = "HARNESS_GPU_FAULT";
/// The environment variable that lowers the storage binding limit.
pub const MAX_BINDING_VAR: &str = "HARNESS_GPU_MAX_BINDING";
/// The environment variable that lowers the workgroup-memory limit.
pub const MAX_WORKGROUP_STORAGE_VAR: &str = "HARNESS_GPU_MAX_WORKGROUP_STORAGE";

/// What kind of fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    DeviceLost,
    Oom,
    Shader,
    NoF64,
}

impl FaultKind {
    /// The name used in `HARNESS_GPU_FAULT`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::DeviceLost => "device-lost",
            FaultKind::Oom => "oom",
            FaultKind::Shader => "shader",
            FaultKind::NoF64 => "no-f64",
        }
    }
}

/// A fault to inject: its kind and, optionally, the labels it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// A substring of the encoder label, buffer label or pipeline name concerned; `None`:
    /// every one.
    pub target: Option<String>,
}

impl Fault {
    /// Whether the fault is of `kind` and applies to `label`.
    pub fn hits(&self, kind: FaultKind, label: &str) -> bool {
        self.kind == kind && self.target.as_deref().is_none_or(|t| label.contains(t))
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Some(t) => write!(f, "{FAULT_VAR}={}:{t}", self.kind.name()),
            None => write!(f, "{FAULT_VAR}={}", self.kind.name()),
        }
    }
}

/// The fault `HARNESS_GPU_FAULT` asks for; `None` when it is unset.
pub fn fault_from_env() -> Result<Option<Fault>, KernelError> {
    match std::env::var_os(FAULT_VAR) {
        None => Ok(None),
        Some(v) => parse_fault(&v.to_string_lossy()).map(Some),
    }
}

fn parse_fault(value: &str) -> Result<Fault, KernelError> {
    let refuse = |reason: &str| KernelError::Environment {
        name: FAULT_VAR,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (kind, target) = match value.split_once(':') {
        Some((k, t)) => (k, Some(t)),
        None => (value, None),
    };
    let kind = match kind {
        "device-lost" => FaultKind::DeviceLost,
        "oom" => FaultKind::Oom,
        "shader" => FaultKind::Shader,
        "no-f64" => FaultKind::NoF64,
        _ => {
            return Err(refuse(
                "expected device-lost, oom or shader (each optionally :LABEL) or no-f64; \
                 unset it to inject nothing",
            ));
        }
    };
    match target {
        Some("") => Err(refuse(
            "the label after `:` is empty: name one, or drop the `:`",
        )),
        Some(_) if kind == FaultKind::NoF64 => Err(refuse("no-f64 takes no label")),
        _ => Ok(Fault {
            kind,
            target: target.map(str::to_string),
        }),
    }
}

/// The binding limit `HARNESS_GPU_MAX_BINDING` asks for, in bytes; `None` when unset.
pub fn max_binding_from_env() -> Result<Option<u64>, KernelError> {
    match std::env::var_os(MAX_BINDING_VAR) {
        None => Ok(None),
        Some(v) => parse_max_binding(&v.to_string_lossy()).map(Some),
    }
}

fn parse_max_binding(value: &str) -> Result<u64, KernelError> {
    parse_bytes(MAX_BINDING_VAR, value)
}

/// The workgroup-memory limit `HARNESS_GPU_MAX_WORKGROUP_STORAGE` asks for, in bytes;
/// `None` when unset.
pub fn max_workgroup_storage_from_env() -> Result<Option<u64>, KernelError> {
    match std::env::var_os(MAX_WORKGROUP_STORAGE_VAR) {
        None => Ok(None),
        Some(v) => parse_bytes(MAX_WORKGROUP_STORAGE_VAR, &v.to_string_lossy()).map(Some),
    }
}

/// A byte count for the variable `name`: a positive multiple of 4.
fn parse_bytes(name: &'static str, value: &str) -> Result<u64, KernelError> {
    match value.parse::<u64>() {
        // wgpu sizes bindings and workgroup memory in multiples of 4 bytes.
        Ok(bytes) if bytes >= 4 && bytes % 4 == 0 => Ok(bytes),
        _ => Err(KernelError::Environment {
            name,
            value: value.to_string(),
            reason: "expected a number of bytes, a positive multiple of 4 (e.g. 65536); unset \
                     it for the adapter's own limit"
                .into(),
        }),
    }
}

/// `bytes` for a reader: `512 B`, `12.0 KiB`, `256.0 MiB`, `2.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_with_and_without_a_label() {
        for kind in [FaultKind::DeviceLost, FaultKind::Oom, FaultKind::Shader] {
            let plain = parse_fault(kind.name()).unwrap();
            assert_eq!((plain.kind, plain.target.as_deref()), (kind, None));
            let aimed = parse_fault(&format!("{}:laue", kind.name())).unwrap();
            assert_eq!(aimed.target.as_deref(), Some("laue"));
            assert!(aimed.hits(kind, "laue-f32") && !aimed.hits(kind, "lm-f32"));
            assert!(plain.hits(kind, "anything"));
        }
        let no_f64 = parse_fault("no-f64").unwrap();
        assert!(!no_f64.hits(FaultKind::Oom, "x"));
    }

    #[test]
    fn bad_values_are_refused_with_what_to_do() {
        for bad in ["", "lost", "oom:", "no-f64:laue", "OOM"] {
            let e = parse_fault(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{FAULT_VAR}=`{bad}`")), "{e}");
        }
        let e = |v: &str| parse_fault(v).unwrap_err().to_string();
        assert!(e("lost").contains("expected device-lost, oom or shader"));
        assert!(e("oom:").contains("label after `:` is empty"));
        assert!(e("no-f64:laue").contains("no-f64 takes no label"));
    }

    #[test]
    fn a_binding_limit_is_a_multiple_of_four_bytes() {
        assert_eq!(parse_max_binding("65536").unwrap(), 65536);
        for bad in ["0", "6", "-4", "64k", "", "1e6"] {
            let e = parse_max_binding(bad).unwrap_err().to_string();
            assert!(e.contains("positive multiple of 4"), "{bad}: {e}");
        }
        let e = parse_bytes(MAX_WORKGROUP_STORAGE_VAR, "2k").unwrap_err();
        assert!(e.to_string().contains(MAX_WORKGROUP_STORAGE_VAR), "{e}");
    }

    #[test]
    fn sizes_read_like_a_person_would_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(12 * 1024), "12.0 KiB");
        assert_eq!(human_bytes(256 << 20), "256.0 MiB");
        assert_eq!(human_bytes(2 << 30), "2.0 GiB");
    }
}
