//! The registry: every kernel, and through each kernel's `variants()` table every
//! (kernel, case, variant). The match below has no catch-all arm on purpose: a new kernel
//! must be added here or the crate does not compile.

use crate::deconv::Deconv;
use crate::kernel::{DynKernel, KernelEntry};
use crate::laue::Laue;
use crate::lm::Lm;
use crate::pipeline::Pipeline;
use crate::psf::Psf;

/// Every kernel of the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelId {
    Laue,
    Psf,
    Lm,
    Deconv,
    Pipeline,
}

impl KernelId {
    pub const ALL: [KernelId; 5] = [
        KernelId::Laue,
        KernelId::Psf,
        KernelId::Lm,
        KernelId::Deconv,
        KernelId::Pipeline,
    ];

    pub fn kernel(self) -> &'static dyn DynKernel {
        static LAUE: KernelEntry<Laue> = KernelEntry::new();
        static PSF: KernelEntry<Psf> = KernelEntry::new();
        static LM: KernelEntry<Lm> = KernelEntry::new();
        static DECONV: KernelEntry<Deconv> = KernelEntry::new();
        static PIPELINE: KernelEntry<Pipeline> = KernelEntry::new();
        match self {
            KernelId::Laue => &LAUE,
            KernelId::Psf => &PSF,
            KernelId::Lm => &LM,
            KernelId::Deconv => &DECONV,
            KernelId::Pipeline => &PIPELINE,
        }
    }
}

/// All kernels, in teaching order.
pub fn kernels() -> impl Iterator<Item = &'static dyn DynKernel> {
    KernelId::ALL.into_iter().map(KernelId::kernel)
}

/// Looks a kernel up by name, with the valid names in the error.
pub fn kernel(name: &str) -> Result<&'static dyn DynKernel, crate::KernelError> {
    kernels()
        .find(|k| k.name() == name)
        .ok_or_else(|| crate::KernelError::Unknown {
            what: "kernel",
            given: name.to_string(),
            valid: kernels().map(|k| k.name()).collect::<Vec<_>>().join(", "),
        })
}

/// A parsed variant id `kernel/case/variant`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantId {
    pub kernel: String,
    pub case: String,
    pub variant: String,
}

impl VariantId {
    pub fn parse(id: &str) -> Result<VariantId, crate::KernelError> {
        let parts: Vec<&str> = id.split('/').collect();
        match parts.as_slice() {
            [kernel, case, variant]
                if !kernel.is_empty() && !case.is_empty() && !variant.is_empty() =>
            {
                Ok(VariantId {
                    kernel: kernel.to_string(),
                    case: case.to_string(),
                    variant: variant.to_string(),
                })
            }
            _ => Err(crate::KernelError::Input(format!(
                "variant id `{id}` is not of the form kernel/case/variant (e.g. laue/strained/parallel)"
            ))),
        }
    }
}

impl std::fmt::Display for VariantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kernel, self.case, self.variant)
    }
}
