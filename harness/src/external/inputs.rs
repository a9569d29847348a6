//! The `.npy` files between the harness and a worker: the problem's inputs written into the
//! run folder, and the worker's output read back and checked (a `.npy`, float64 or float32,
//! no NaN) before the kernel's own check compares it with the reference.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, Dimension};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

/// Writes each input as `<folder>/<stem>-<name>.npy`; the paths by name.
pub fn write(
    folder: &Path,
    stem: &str,
    inputs: &[(&'static str, ArrayD<f64>)],
) -> Result<Vec<(String, PathBuf)>, String> {
    std::fs::create_dir_all(folder).map_err(|e| {
        format!(
            "cannot create {} ({e}): check the run folder",
            folder.display()
        )
    })?;
    let mut paths = Vec::new();
    for (name, array) in inputs {
        let path = folder.join(format!("{stem}-{name}.npy"));
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot write {} ({e}): check the disk", path.display()))?;
        // C order, little-endian float64: what the protocol promises.
        array
            .as_standard_layout()
            .write_npy(std::io::BufWriter::new(file))
            .map_err(|e| format!("cannot write {} ({e}): check the disk", path.display()))?;
        paths.push((name.to_string(), path));
    }
    Ok(paths)
}

/// Reads the worker's output: float64, or float32 widened, with no NaN or infinity.
pub fn read(worker: &str, path: &Path) -> Result<ArrayD<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "worker {worker} wrote no output at {} ({e}): it must write the .npy on the first \
             `run` after a `problem`",
            path.display()
        )
    })?;
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err(format!(
            "worker {worker}'s output {} is not a .npy file: write it with numpy.save (or an \
             equivalent)",
            path.display()
        ));
    }
    let array = match ArrayD::<f64>::read_npy(bytes.as_slice()) {
        Ok(a) => a,
        Err(_) => ArrayD::<f32>::read_npy(bytes.as_slice())
            .map(|a| a.mapv(f64::from))
            .map_err(|e| {
                format!(
                    "worker {worker}'s output {} is not a little-endian float64 or float32 \
                     array in C order ({e}): write that dtype",
                    path.display()
                )
            })?,
    };
    if let Some((index, value)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!(
            "worker {worker}'s output holds {value} at {:?}: every value must be finite",
            index.slice()
        ));
    }
    Ok(array)
}
