//! Every kind of bad `.npy` gets a clear error (or is accepted and converted), and the
//! writer never overwrites.

use std::io::Write;
use std::path::PathBuf;

use kernels::io::{read_f64, write_f64};

/// A .npy file written by hand: version 1.0 header padded to 64 bytes, then `data`.
fn npy(name: &str, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kernels-io-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(data).unwrap();
    path
}

fn le(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn message(path: &std::path::Path) -> String {
    read_f64(path).unwrap_err().to_string()
}

#[test]
fn float64_in_any_order_and_endianness_is_accepted() {
    let c = read_f64(&npy(
        "c.npy",
        "<f8",
        false,
        "(2, 3)",
        &le(&[1., 2., 3., 4., 5., 6.]),
    ))
    .unwrap();
    // Fortran order: the same logical array stored column by column.
    let f = read_f64(&npy(
        "f.npy",
        "<f8",
        true,
        "(2, 3)",
        &le(&[1., 4., 2., 5., 3., 6.]),
    ))
    .unwrap();
    assert_eq!(c, f);
    let be: Vec<u8> = [1., 2., 3., 4., 5., 6.]
        .iter()
        .flat_map(|v: &f64| v.to_be_bytes())
        .collect();
    let b = read_f64(&npy("b.npy", ">f8", false, "(2, 3)", &be)).unwrap();
    assert_eq!(c, b);
}

#[test]
fn bad_files_get_a_message_that_says_what_to_do() {
    let f32 = npy("f32.npy", "<f4", false, "(2,)", &[0; 8]);
    assert!(message(&f32).contains("float64"), "{}", message(&f32));
    let complex = npy("c16.npy", "<c16", false, "(1,)", &[0; 16]);
    assert!(
        message(&complex).contains("float64"),
        "{}",
        message(&complex)
    );
    let truncated = npy("short.npy", "<f8", false, "(4,)", &le(&[1.0, 2.0]));
    assert!(
        message(&truncated).contains("intact"),
        "{}",
        message(&truncated)
    );
    let corrupt = {
        let p = npy("corrupt.npy", "<f8", false, "(1,)", &le(&[1.0]));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[12] = b'#'; // inside the header dictionary
        std::fs::write(&p, bytes).unwrap();
        p
    };
    assert!(
        message(&corrupt).contains("intact"),
        "{}",
        message(&corrupt)
    );
    let missing = PathBuf::from("no/such/file.npy");
    assert!(
        message(&missing).contains("check the path"),
        "{}",
        message(&missing)
    );
}

#[test]
fn nan_and_inf_are_refused_with_their_index() {
    let p = npy(
        "nan.npy",
        "<f8",
        false,
        "(2, 2)",
        &le(&[1.0, 2.0, f64::NAN, 4.0]),
    );
    let m = message(&p);
    assert!(m.contains("NaN") && m.contains("[1, 0]"), "{m}");
    let p = npy(
        "inf.npy",
        "<f8",
        false,
        "(3,)",
        &le(&[1.0, f64::INFINITY, 0.0]),
    );
    assert!(message(&p).contains("inf"), "{}", message(&p));
}

#[test]
fn writing_never_overwrites() {
    let p = npy("existing.npy", "<f8", false, "(1,)", &le(&[1.0]));
    let a = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[2]));
    let e = write_f64(&p, &a).unwrap_err().to_string();
    assert!(e.contains("never overwrites"), "{e}");
    assert_eq!(read_f64(&p).unwrap().len(), 1);
}
