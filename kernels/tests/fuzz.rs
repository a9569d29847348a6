//! Fuzzing of the kernels' parsers of outside input (issue 16, item 5): the `.npy` reader
//! ([`kernels::io::read_f64`], behind `run --input`, `validate --reference` and the report's
//! images) and the FITS reader of the TRACE image ([`kernels::deconv::scene::trace`], from
//! `HARNESS_SHARED`). No TOML is parsed anywhere. cargo-fuzz needs a nightly compiler, so
//! these are proptest harnesses of arbitrary bytes, of valid files mutated byte by byte, and
//! of files built from random header fields (any version, header length, dtype, order and
//! shape for `.npy`; BITPIX, NAXIS and scaling cards for FITS; huge declared sizes, cut
//! data). Each input must give an array or a one-line error: never a panic, never an abort,
//! and never an allocation beyond what the file's length justifies (a global allocator
//! below records the largest one made while reading).
//!
//! Bounded for CI: each target runs well under 20 s in release mode on 2 cores;
//! `PROPTEST_CASES` overrides the counts for a longer local run. A crash found is kept at
//! the bottom as a named regression test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use kernels::io::read_f64;

// ---- the largest allocation while reading ----------------------------------------------------

/// The system allocator, recording the largest single request made on a thread while that
/// thread is measuring (other test threads allocate freely and are not counted).
struct Recording;

thread_local! {
    /// (measuring, largest request in bytes) of this thread.
    static LARGEST: Cell<(bool, usize)> = const { Cell::new((false, 0)) };
}

fn record(size: usize) {
    // `try_with`: never a panic inside the allocator, even while a thread is torn down.
    let _ = LARGEST.try_with(|c| {
        let (on, max) = c.get();
        if on && size > max {
            c.set((true, size));
        }
    });
}

// Safety: every call goes straight to `System`, which upholds `GlobalAlloc`'s contract; the
// recording touches a const-initialised thread-local `Cell` only (no allocation, no drop).
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // Safety: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // Safety: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // Safety: `ptr` and `layout` are the caller's, from this allocator (= System).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Allocations the reader may make whatever the file: its `BufReader` (8 KiB), the header's
/// bytes (at most `MAX_HEADER_BYTES`), messages and the like.
const FIXED: usize = 8192 + kernels::io::MAX_HEADER_BYTES as usize + 8192;

/// Runs `read` and returns its result with the largest single allocation it made.
fn largest_allocation<T>(read: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set((true, 0)));
    let result = read();
    let (_, largest) = LARGEST.with(|c| c.replace((false, 0)));
    (result, largest)
}

/// Reads `bytes` as an `.npy` file at `path`: Ok or Err are both fine, a panic fails the
/// case (proptest reports it), an abort fails the whole test binary. The largest single
/// allocation made while reading must be within the file's length and [`FIXED`].
fn read_checked(path: &Path, bytes: &[u8]) -> Result<ndarray::ArrayD<f64>, String> {
    std::fs::write(path, bytes).unwrap();
    let (result, largest) = largest_allocation(|| read_f64(path));
    assert!(
        largest <= bytes.len() + FIXED,
        "allocated {largest} bytes at once reading a file of {} bytes",
        bytes.len()
    );
    match result {
        Ok(array) => {
            assert!(
                8 * array.len() + 10 <= bytes.len(),
                "an array of {} values read from a file of {} bytes",
                array.len(),
                bytes.len()
            );
            Ok(array)
        }
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "a message on several lines: {e}");
            assert!(
                e.contains(&path.display().to_string()),
                "no file named: {e}"
            );
            Err(e)
        }
    }
}

// ---- inputs -----------------------------------------------------------------------------------

/// `cases` unless `PROPTEST_CASES` says otherwise; no regression files (crashes become
/// named tests below).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

/// A file for one test thread (the targets run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kernels-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{test}.npy"))
}

/// An `.npy` file: magic, `version`, `header_len` (None: the real one) in 2 or 4 bytes by
/// version, the header text padded to 64 bytes as numpy pads it, then `data`.
fn npy(version: (u8, u8), header: &str, header_len: Option<u32>, data: &[u8]) -> Vec<u8> {
    let wide = version.0 != 1;
    let prefix = if wide { 12 } else { 10 };
    let mut text = header.to_string();
    while !(prefix + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([version.0, version.1]);
    let len = header_len.unwrap_or(text.len() as u32);
    if wide {
        bytes.extend(len.to_le_bytes());
    } else {
        bytes.extend((len as u16).to_le_bytes());
    }
    bytes.extend(text.as_bytes());
    bytes.extend(data);
    bytes
}

/// The dictionary numpy writes.
fn dictionary(descr: &str, fortran: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

/// A valid 3 × 4 float64 file of the given version.
fn seed(version: u8) -> Vec<u8> {
    let data: Vec<u8> = (0..12)
        .flat_map(|i| (i as f64 * 0.5).to_le_bytes())
        .collect();
    npy(
        (version, 0),
        &dictionary("<f8", "False", "(3, 4)"),
        None,
        &data,
    )
}

/// Pieces that have broken header parsers: numbers at the edges of every integer type,
/// signs, quotes, brackets, Python literals.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "4000000000",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "340282366920938463463374607431768211456",
    "1e308",
    "(",
    ")",
    "()",
    ",",
    "'",
    "\"",
    ":",
    "{",
    "}",
    "[",
    "]",
    "True",
    "False",
    "None",
    "'descr'",
    "'shape'",
    "'fortran_order'",
    "<f8",
    ">f8",
    "<f4",
    "|O",
    "\n",
    "\u{0}",
    "\\",
    "\u{feff}",
    // FITS
    "END",
    "NAXIS",
    "NAXIS1  = ",
    "BITPIX  = ",
    "= ",
    " T",
    "-64",
    "'abc'",
];

/// One mutation: (kind, position, byte, token).
type Op = (u8, usize, u8, usize);

fn mutate(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(kind, pos, byte, token) in ops {
        let at = if b.is_empty() { 0 } else { pos % (b.len() + 1) };
        match kind % 5 {
            0 if at < b.len() => b[at] = byte,
            1 => b.insert(at, byte),
            2 if at < b.len() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            _ => {
                let t = TOKENS[token % TOKENS.len()].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
        }
    }
    b
}

fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (any::<u8>(), any::<usize>(), any::<u8>(), any::<usize>()),
        1..max,
    )
}

/// One dimension: small, zero, at the edges of 32 and 64 bits, or anything.
fn dimension() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..6).prop_map(|d| d.to_string()),
        1 => Just("0".to_string()),
        1 => Just("4000000000".to_string()),
        1 => Just((1u64 << 61).to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just(i64::MAX.to_string()),
        1 => Just("-3".to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => any::<u64>().prop_map(|d| d.to_string()),
    ]
}

/// A shape as Python writes it: `()`, `(3,)`, `(3, 4)`, …; sometimes a list or a broken one.
fn shape() -> impl Strategy<Value = String> {
    (prop::collection::vec(dimension(), 0..5), 0u8..10).prop_map(|(dims, style)| match style {
        0 => format!("[{}]", dims.join(", ")),
        1 => format!("({}", dims.join(", ")),
        _ if dims.len() == 1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    })
}

/// Data types numpy writes (and a few it does not).
fn descr() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "<f8", "<f8", "<f8", ">f8", "=f8", "|f8", "<f4", "<i8", "|u1", "|b1", "<c16", "|O", "<U3",
        "V8", "", "<f8'",
    ])
    .prop_map(String::from)
}

fn fortran_order() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["False", "True", "false", "1", "None", ""]).prop_map(String::from)
}

fn version() -> impl Strategy<Value = (u8, u8)> {
    prop_oneof![
        6 => prop::sample::select(vec![(1u8, 0u8), (2, 0), (3, 0)]),
        1 => (any::<u8>(), any::<u8>()),
    ]
}

/// The declared header length: the real one mostly, else a neighbour or anything.
fn header_len() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        6 => Just(None),
        1 => (0u32..200).prop_map(Some),
        1 => Just(Some(0xFFFF_FFF0)),
        1 => Just(Some(u32::from(u16::MAX))),
        1 => any::<u32>().prop_map(Some),
    ]
}

/// The data's bytes a shape declares, when it is a plain tuple or list of integers whose
/// product is small enough to write (None: huge, negative, unparsable).
fn declared_len(shape: &str) -> Option<usize> {
    let dims: Option<Vec<usize>> = shape
        .trim_matches(|c| "()[],".contains(c))
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().ok())
        .collect();
    dims.and_then(|d| d.iter().try_fold(8usize, |b, &n| b.checked_mul(n)))
        .filter(|&b| b <= 4096)
}

/// Data: as much as the shape declares (64 bytes when that is too much), or cut, or extra.
fn data_len(shape: &str, choice: u8, extra: usize) -> usize {
    let exact = declared_len(shape).unwrap_or(64);
    match choice % 4 {
        0 | 1 => exact,
        2 => exact.saturating_sub(1 + extra % 16),
        _ => exact + extra % 64,
    }
}

// ---- the targets ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    /// Any bytes at all, and any bytes after a valid magic string and version.
    #[test]
    fn fuzz_npy_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        version in version(),
    ) {
        let path = scratch("arbitrary");
        let _ = read_checked(&path, &bytes);
        let mut after_magic = b"\x93NUMPY".to_vec();
        after_magic.extend([version.0, version.1]);
        after_magic.extend(&bytes);
        let _ = read_checked(&path, &after_magic);
    }

    /// Valid files of every version, mutated: flipped, inserted, removed bytes, cuts, and
    /// tokens spliced into the header (numbers at the edges of every integer type).
    #[test]
    fn fuzz_npy_mutated(version in 1u8..4, ops in ops(10)) {
        let path = scratch("mutated");
        let _ = read_checked(&path, &mutate(&seed(version), &ops));
    }

    /// Files built from random header fields: version, declared header length, dtype,
    /// order, shape (huge, zero, negative, many dimensions) and the data's length.
    #[test]
    fn fuzz_npy_header_fields(
        version in version(),
        header_len in header_len(),
        descr in descr(),
        fortran in fortran_order(),
        shape in shape(),
        choice in any::<u8>(),
        extra in any::<usize>(),
        fill in any::<u8>(),
    ) {
        let path = scratch("fields");
        let header = dictionary(&descr, &fortran, &shape);
        let data = vec![fill; data_len(&shape, choice, extra)];
        let bytes = npy(version, &header, header_len, &data);
        let read = read_checked(&path, &bytes);
        // A file numpy could have written, with its data complete, is read.
        let exact = declared_len(&shape) == Some(data.len());
        let well_formed = header_len.is_none()
            && [(1, 0), (2, 0), (3, 0)].contains(&version)
            && (descr == "<f8" || descr == ">f8")
            && (fortran == "False" || fortran == "True")
            && shape.starts_with('(') && shape.ends_with(')')
            && !shape.contains('-');
        if exact && well_formed && read.is_err() {
            // Refused only for NaN or Inf (a fill byte of 0x7f or 0xff), or for a shape
            // with a zero that no array can index ((0, 4000000000, 4000000000)).
            let e = read.unwrap_err();
            prop_assert!(
                e.contains("must be finite") || e.contains("more elements than an array can index"),
                "a well-formed file was refused: {e}"
            );
        }
    }
}

// ---- FITS ---------------------------------------------------------------------------------------

/// A FITS header card, `KEYWORD = value` over 80 columns (value right-aligned to column 30,
/// as fixed-format writers put it).
fn card(key: &str, value: &str) -> String {
    format!("{:<80}", format!("{key:<8}= {value:>20}"))
}

/// A FITS file: the cards, `END`, padded with spaces to 2880-byte blocks, then `data`
/// padded with zeros to a whole block when `pad`.
fn fits(cards: &[String], data: &[u8], pad: bool) -> Vec<u8> {
    let mut header: String = cards.concat();
    header.push_str(&format!("{:<80}", "END"));
    while !header.len().is_multiple_of(2880) {
        header.push(' ');
    }
    let mut bytes = header.into_bytes();
    bytes.extend(data);
    while pad && !bytes.len().is_multiple_of(2880) {
        bytes.push(0);
    }
    bytes
}

/// A valid 8 × 8 16-bit image with BSCALE and BZERO.
fn fits_seed() -> Vec<u8> {
    let data: Vec<u8> = (0..64i16)
        .flat_map(|v| (v * 3 - 50).to_be_bytes())
        .collect();
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "16"),
        card("NAXIS", "2"),
        card("NAXIS1", "8"),
        card("NAXIS2", "8"),
        card("BSCALE", "0.5"),
        card("BZERO", "100"),
    ];
    fits(&cards, &data, true)
}

/// Reads `bytes` as the TRACE image (its central n × n) at `path`, as [`read_checked`]
/// does for `.npy`. A FITS file of 8-bit pixels becomes 8 bytes a pixel in f64, so the
/// bound is 8 × the file's length.
fn trace_checked(path: &Path, bytes: &[u8], n: usize) -> Result<ndarray::Array2<f64>, String> {
    std::fs::write(path, bytes).unwrap();
    let (result, largest) = largest_allocation(|| kernels::deconv::scene::trace(path, n));
    assert!(
        largest <= 8 * bytes.len() + FIXED,
        "allocated {largest} bytes at once reading a FITS file of {} bytes",
        bytes.len()
    );
    match result {
        Ok(image) => {
            assert_eq!(image.dim(), (n, n));
            Ok(image)
        }
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "a message on several lines: {e}");
            Err(e)
        }
    }
}

/// A FITS card value: small numbers, zero, negative, huge, not a number.
fn fits_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..12).prop_map(|d| d.to_string()),
        1 => Just("4000000000".to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just("-1".to_string()),
        1 => Just("1E300".to_string()),
        1 => Just("'abc'".to_string()),
        1 => Just("T".to_string()),
        1 => any::<u64>().prop_map(|d| d.to_string()),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any bytes, and the valid seed mutated (cards, sizes, the END card, cuts).
    #[test]
    fn fuzz_fits_arbitrary_and_mutated(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        ops in ops(10),
        n in prop::sample::select(vec![1usize, 4, 8, 16]),
    ) {
        let path = scratch("fits");
        let _ = trace_checked(&path, &bytes, n);
        let _ = trace_checked(&path, &mutate(&fits_seed(), &ops), n);
    }

    /// Headers built from random BITPIX, NAXIS, NAXISn, BSCALE and BZERO over data of any
    /// length (exact, cut, none, extra).
    #[test]
    fn fuzz_fits_header_fields(
        bitpix in prop::sample::select(vec!["8", "16", "32", "64", "-32", "-64", "0", "12", "-16", "'x'"]),
        naxis in prop::sample::select(vec!["2", "2", "2", "0", "1", "3", "999", "-2"]),
        naxis1 in fits_value(),
        naxis2 in fits_value(),
        naxis3 in fits_value(),
        bscale in fits_value(),
        bzero in fits_value(),
        data_len in prop_oneof![0usize..600, Just(128), Just(2880)],
        pad in any::<bool>(),
        n in prop::sample::select(vec![1usize, 4, 8]),
    ) {
        let path = scratch("fits-fields");
        let cards = [
            card("SIMPLE", "T"),
            card("BITPIX", bitpix),
            card("NAXIS", naxis),
            card("NAXIS1", &naxis1),
            card("NAXIS2", &naxis2),
            card("NAXIS3", &naxis3),
            card("BSCALE", &bscale),
            card("BZERO", &bzero),
        ];
        let data: Vec<u8> = (0..data_len).map(|i| (i * 7) as u8).collect();
        let _ = trace_checked(&path, &fits(&cards, &data, pad), n);
    }
}

// ---- regressions found by the targets above ---------------------------------------------------

/// The seeds are read (else the mutations above test only refusals).
#[test]
fn seeds_are_valid_files() {
    let path = scratch("seeds");
    for version in 1..4 {
        let array = read_checked(&path, &seed(version)).unwrap();
        assert_eq!(array.shape(), &[3, 4]);
        assert_eq!(array[[2, 3]], 5.5);
    }
}

/// ndarray-npy unwrapped ndarray's shape error (a panic) for a shape whose non-zero
/// dimensions overflow an index although a zero dimension leaves no data to read.
#[test]
fn a_zero_dimension_beside_huge_ones_is_refused_not_a_panic() {
    let path = scratch("zero-huge");
    for shape in [
        "(0, 4000000000, 4000000000)",
        "(4000000000, 0, 4000000000, 3)",
    ] {
        let bytes = npy((1, 0), &dictionary("<f8", "False", shape), None, &[]);
        let e = read_checked(&path, &bytes).unwrap_err();
        assert!(e.contains("more elements than an array can index"), "{e}");
    }
    // A zero dimension beside ordinary ones is an empty array, as numpy reads it.
    let bytes = npy(
        (1, 0),
        &dictionary("<f8", "False", "(0, 4000000000)"),
        None,
        &[],
    );
    assert_eq!(
        read_checked(&path, &bytes).unwrap().shape(),
        &[0, 4_000_000_000]
    );
}

/// ndarray-npy's header syntax errors span several lines (pest draws the header and a
/// caret): the message is one line that still says where and what was expected.
#[test]
fn a_header_syntax_error_is_one_line_with_its_position() {
    let path = scratch("syntax");
    let header = "{'descr': '<f8', 'fortran_order': , 'shape': (3,), }";
    let bytes = npy((1, 0), header, None, &[0; 24]);
    let e = read_checked(&path, &bytes).unwrap_err();
    assert!(
        e.contains("1:35") && e.contains("expected value") && e.contains("np.save"),
        "{e}"
    );
}

/// The FITS seed is read (else the mutations above test only refusals), with its scaling.
#[test]
fn the_fits_seed_is_a_valid_image() {
    let path = scratch("fits-seed");
    let image = trace_checked(&path, &fits_seed(), 8).unwrap();
    // Raw value at (0, 0) is −50: 100 + 0.5 · (−50).
    assert_eq!(image[[0, 0]], 75.0);
}

/// A FITS header declaring more pixels than its file holds is refused before its data
/// are collected (NAXIS1 × NAXIS2 of a few header bytes could ask for terabytes).
#[test]
fn a_fits_header_declaring_more_pixels_than_the_file_holds_is_refused() {
    let path = scratch("fits-huge");
    let cards = [
        card("SIMPLE", "T"),
        card("BITPIX", "-64"),
        card("NAXIS", "2"),
        card("NAXIS1", "4000000000"),
        card("NAXIS2", "4000000000"),
    ];
    let e = trace_checked(&path, &fits(&cards, &[0; 64], true), 4).unwrap_err();
    assert!(
        e.contains("4000000000 × 4000000000") && e.contains("5760 bytes"),
        "{e}"
    );
}
