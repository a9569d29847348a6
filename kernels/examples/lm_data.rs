//! Writes a generated `lm` data set as `.npy`, so that Python fits exactly the same numbers:
//! `<out>/<case>_y.npy` (fits × points), `_init.npy` (fits × parameters), `_truth.npy`
//! (fits × parameters) and `_x.npy` (the abscissae: frequencies in GHz, or the 5×5 grid's
//! (x, y) pairs for gauss2d).
//!
//! cargo run --release -p kernels --example lm_data -- <case> <fits> <seed> <out-dir>

use std::path::PathBuf;

use kernels::lm::{AnyModel, Kind, generate, model_of};
use ndarray::{Array2, ArrayD, IxDyn};
use ndarray_npy::WriteNpyExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, fits, seed, out] = args.as_slice() else {
        return Err("usage: lm_data <gauss2d|odmr|odmr8> <fits> <seed> <out-dir>".into());
    };
    let kind = match case.as_str() {
        "gauss2d" => Kind::Gauss2d,
        "odmr" => Kind::Odmr,
        "odmr8" => Kind::Odmr8,
        other => return Err(format!("unknown case {other}").into()),
    };
    let (fits, seed): (usize, u64) = (fits.parse()?, seed.parse()?);
    let g = generate(kind, fits, seed);
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let write =
        |name: &str, values: Vec<f64>, cols: usize| -> Result<(), Box<dyn std::error::Error>> {
            let rows = values.len() / cols;
            let a = ArrayD::from_shape_vec(IxDyn(&[rows, cols]), values)?;
            let path = out.join(format!("{case}_{name}.npy"));
            a.write_npy(std::fs::File::create(&path)?)?;
            println!("wrote {}", path.display());
            Ok(())
        };
    let params = g.init.len() / fits.max(1);
    write("y", g.y.clone(), g.y.len() / fits.max(1))?;
    write("init", g.init, params)?;
    write("truth", g.truth, params)?;
    match model_of(kind) {
        AnyModel::Lorentzians(m) => write("x", m.freqs, 1)?,
        AnyModel::Gauss2d(_) => {
            let side = kernels::lm::model::GAUSS_SIDE;
            let grid = Array2::from_shape_fn((side * side, 2), |(k, c)| {
                if c == 0 {
                    (k % side) as f64
                } else {
                    (k / side) as f64
                }
            });
            write("x", grid.into_raw_vec_and_offset().0, 2)?
        }
    }
    Ok(())
}
