//! What the kernels give external workers (the harness's `external` module runs them; the
//! protocol is docs/external.md): each kernel's [`crate::Kernel::external_inputs`] and
//! [`crate::Kernel::external_output`] use the helpers here.

use ndarray::{ArrayD, IxDyn};

use crate::error::KernelError;

/// Refuses an output array of another shape than the kernel's, naming both, so that a
/// worker that writes the transpose or a flattened array is told what it must write.
pub fn expect_shape(kernel: &str, array: &ArrayD<f64>, shape: &[usize]) -> Result<(), KernelError> {
    if array.shape() == shape {
        return Ok(());
    }
    Err(KernelError::Failed(format!(
        "{kernel}: the worker's output has shape {:?}, expected {shape:?}: write the array \
         the protocol gives for this kernel (docs/external.md)",
        array.shape()
    )))
}

/// A row-major table as an array of `rows × cols` (the lm inputs).
pub fn table(values: &[f64], cols: usize) -> ArrayD<f64> {
    let rows = values.len() / cols.max(1);
    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), values[..rows * cols].to_vec())
        .expect("rows · cols values")
}
