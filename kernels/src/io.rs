//! Reading and writing `.npy` arrays, with errors that name the file and say what to do.
//! Parsing is ndarray-npy's (a maintained crate); this module adds the messages, and the
//! checks that must come before ndarray-npy sees a file: ndarray-npy allocates what a header
//! declares (the header's own length, then shape × item size) before reading it, so a few
//! bytes of header could ask for terabytes. [`read_f64`] bounds both against the file's real
//! length first.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::ArrayD;
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::check::Output;
use crate::error::KernelError;

/// The folder of committed references: `$HARNESS_REFERENCES`, else `references/` at the
/// workspace root.
///
/// A `HARNESS_REFERENCES` that is set but names no folder is an error, not an empty folder:
/// every kernel would otherwise find no reference file and validate against its oracle
/// alone, without a word. The kernels' `reference_files` then list nothing, and the gate's
/// reference resolution ([`crate::gate::References`]) fails with this message.
pub fn references_dir() -> Result<PathBuf, KernelError> {
    const NAME: &str = "HARNESS_REFERENCES";
    let Some(value) = std::env::var_os(NAME) else {
        return Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("references"));
    };
    let dir = PathBuf::from(&value);
    let reason = match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => return Ok(dir),
        Ok(_) => "not a folder".to_string(),
        Err(e) => e.to_string(),
    };
    Err(KernelError::Environment {
        name: NAME,
        value: value.to_string_lossy().into_owned(),
        reason: format!(
            "{reason}: point it at a folder of references (a copy of references/), or unset it \
             for the committed ones"
        ),
    })
}

/// Whether `path` lies in the references folder (only then does a read error point at the
/// scripts that regenerate references).
fn under_references(path: &Path) -> bool {
    let Ok(dir) = references_dir() else {
        return false;
    };
    if path.starts_with(&dir) {
        return true;
    }
    // The same folder reached another way (a relative path, `..`): compare real paths. The
    // file itself may be missing, so its folder's.
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    match (dir.canonicalize(), folder.map(Path::canonicalize)) {
        (Ok(dir), Some(Ok(folder))) => folder.starts_with(dir),
        _ => false,
    }
}

/// What a file that is not a regular file is, for the message.
fn file_kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Opens `path` for reading if it is a regular file (symlinks followed), with its length.
/// Anything else is refused BEFORE it is opened: opening a FIFO without a writer blocks
/// forever, a device can be endless, a folder has no data. The error is the real cause, as
/// the system gives it, or which kind of file this is; callers add what to do.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), std::io::Error> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}, not a regular file: only regular files are read (a pipe or a device could \
                 block or never end)",
                file_kind(meta.file_type())
            ),
        ));
    }
    let file = File::open(path)?;
    // The length of what was opened (the path may have changed since the check).
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// The magic string that opens every `.npy` file. The preamble goes on with the format
/// version (2 bytes) and the header's length (2 bytes in version 1, 4 in versions 2 and 3).
const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest header accepted, in bytes: numpy's own default `max_header_size` (numpy ≥
/// 1.24 refuses longer headers unless told to trust the file). A float64 array's header is
/// 128 bytes or so.
pub const MAX_HEADER_BYTES: u64 = 10_000;

/// The fixed start of an `.npy` file, as `numpy.lib.format` lays it out:
///
/// ```text
/// version 1.0:       \x93NUMPY 01 00 <header length: u16 LE>  (10 bytes)
/// versions 2.0, 3.0: \x93NUMPY 0M 00 <header length: u32 LE>  (12 bytes)
/// then the header (a Python dict literal, padded), then the data.
/// ```
struct Preamble {
    /// The preamble's own length: 10 or 12 bytes.
    len: u64,
    /// The header's length as the preamble declares it (not yet checked).
    header_len: u64,
    /// The preamble's bytes, which ndarray-npy's header parser reads again.
    bytes: [u8; 12],
}

/// `what`, and what the file was expected to be: every refusal of a damaged file ends so.
fn damaged(what: String) -> String {
    format!(
        "{what} (expected an intact float64 .npy file: in numpy, np.save(path, \
         a.astype(np.float64)))"
    )
}

/// Reads the magic string, the version and the header length, refusing a file shorter than
/// its preamble, without the magic string, or of a version numpy never wrote.
fn read_preamble(file: &mut File, file_len: u64) -> Result<Preamble, String> {
    let mut bytes = [0u8; 12];
    if file_len < 10 {
        return Err(damaged(format!(
            "{file_len} bytes: shorter than an .npy preamble"
        )));
    }
    file.read_exact(&mut bytes[..10])
        .map_err(|e| format!("reading the preamble: {e}"))?;
    if bytes[..6] != *MAGIC {
        return Err(damaged(
            "not an .npy file (no \\x93NUMPY magic at its start)".into(),
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    match (major, minor) {
        (1, 0) => Ok(Preamble {
            len: 10,
            header_len: u16::from_le_bytes([bytes[8], bytes[9]]).into(),
            bytes,
        }),
        (2 | 3, 0) if file_len < 12 => Err(damaged(format!(
            "{file_len} bytes: shorter than an .npy version {major} preamble"
        ))),
        (2 | 3, 0) => {
            file.read_exact(&mut bytes[10..12])
                .map_err(|e| format!("reading the preamble: {e}"))?;
            let [a, b, c, d] = [bytes[8], bytes[9], bytes[10], bytes[11]];
            Ok(Preamble {
                len: 12,
                header_len: u32::from_le_bytes([a, b, c, d]).into(),
                bytes,
            })
        }
        _ => Err(damaged(format!(
            ".npy format version {major}.{minor}: versions 1.0, 2.0 and 3.0 are read"
        ))),
    }
}

/// The header's declared length: at most [`MAX_HEADER_BYTES`] (as numpy), and within the
/// file.
fn check_header_len(preamble: &Preamble, file_len: u64) -> Result<(), String> {
    let header_len = preamble.header_len;
    if header_len > MAX_HEADER_BYTES {
        return Err(damaged(format!(
            "the header declares {header_len} bytes, more than the {MAX_HEADER_BYTES} numpy \
             itself accepts"
        )));
    }
    if preamble.len + header_len > file_len {
        return Err(damaged(format!(
            "the header declares {header_len} bytes but the file holds {} after its preamble",
            file_len - preamble.len
        )));
    }
    Ok(())
}

/// The header's dictionary (`{'descr': …, 'fortran_order': …, 'shape': …}`), parsed by
/// ndarray-npy's own header parser on these bytes only (their length is checked): one
/// parser for what the reader will accept.
fn read_dictionary(file: &mut File, preamble: &Preamble) -> Result<Header, String> {
    let start = preamble.len as usize;
    let mut bytes = preamble.bytes[..start].to_vec();
    bytes.resize(start + preamble.header_len as usize, 0);
    file.read_exact(&mut bytes[start..])
        .map_err(|e| damaged(format!("reading the header: {e}")))?;
    Header::from_reader(&mut std::io::Cursor::new(bytes))
        .map_err(|e| damaged(format!("the header does not parse: {e}")))
}

/// A parser's message on one line. ndarray-npy's syntax errors are laid out over several
/// lines as pest draws them (` --> 1:35`, the quoted header, a caret, `= expected value`):
/// kept are the position and the expectation, dropped the drawing and the quoted header
/// (which may hold any bytes); any other control character is escaped.
fn one_line(message: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in message.lines() {
        let (text, position) = match line.split_once("-->") {
            Some((text, position)) => (text, Some(position.trim())),
            None => (line, None),
        };
        let text = text.trim();
        let drawing = text.chars().all(|c| matches!(c, '|' | '^' | '-' | ' '));
        let quoted = text
            .split_once(" |")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !drawing && !quoted {
            parts.push(text.strip_prefix("= ").unwrap_or(text).to_string());
        }
        if let Some(p) = position {
            parts.push(format!("at line:column {p}:"));
        }
    }
    parts
        .join(" ")
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_debug().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The data type is float64, either byte order. Checked before the shape: ndarray-npy
/// allocates shape × 8 bytes before it looks at the type.
fn check_float64(header: &Header) -> Result<(), String> {
    let descr = header.type_descriptor.as_string().map(String::as_str);
    match descr {
        Some("<f8" | ">f8") => Ok(()),
        _ => Err(damaged(format!(
            "dtype {} is not float64",
            header.type_descriptor
        ))),
    }
}

/// The shape's bytes (8 per element) are exactly the data the file holds after its header,
/// and its elements can be indexed.
fn check_data_len(header: &Header, data_len: u64) -> Result<(), String> {
    let declared = header
        .shape
        .iter()
        .try_fold(8u64, |bytes, &n| bytes.checked_mul(n as u64));
    match declared {
        Some(declared) if declared == data_len => check_indexable(&header.shape),
        Some(declared) => Err(damaged(format!(
            "the header declares shape {:?} of float64, {declared} bytes of data, but the file \
             holds {data_len} bytes of data",
            header.shape
        ))),
        None => Err(damaged(format!(
            "the header declares shape {:?}: more bytes than a 64-bit size can count, but the \
             file holds {data_len} bytes of data",
            header.shape
        ))),
    }
}

/// ndarray requires the product of the non-zero dimensions to fit in an `isize`, even when
/// a zero dimension leaves no data (ndarray-npy unwraps that error: a file of shape
/// (0, 4000000000, 4000000000) panicked).
fn check_indexable(shape: &[usize]) -> Result<(), String> {
    let count = shape
        .iter()
        .filter(|&&n| n != 0)
        .try_fold(1usize, |count, &n| count.checked_mul(n));
    match count {
        Some(count) if count <= isize::MAX as usize => Ok(()),
        _ => Err(damaged(format!(
            "the header declares shape {shape:?}: more elements than an array can index (the \
             product of its non-zero dimensions exceeds 2^63 - 1)"
        ))),
    }
}

/// Checks the header of a float64 `.npy` file of `file_len` bytes, read from its start:
/// every length it declares (its own, then the data's) against the file's real length, so
/// that ndarray-npy allocates nothing from an unchecked number.
fn check_header(file: &mut File, file_len: u64) -> Result<(), String> {
    let preamble = read_preamble(file, file_len)?;
    check_header_len(&preamble, file_len)?;
    let header = read_dictionary(file, &preamble)?;
    check_float64(&header)?;
    check_data_len(&header, file_len - preamble.len - preamble.header_len)
}

/// Reads a float64 `.npy` file (any shape; C or Fortran order and either endianness are
/// accepted and converted). Refuses other dtypes, damaged files and NaN/Inf values, each
/// with a message that says what to do. The header is checked against the file's length
/// before anything is allocated from it (see the module docs); a FIFO, a device or a folder
/// is refused before it is opened.
pub fn read_f64(path: &Path) -> Result<ArrayD<f64>, KernelError> {
    // One line whatever the cause: ndarray-npy's parse errors span several, and a header
    // may hold any bytes.
    let err = |reason: String| KernelError::Read {
        path: path.to_path_buf(),
        reason: one_line(&reason),
    };
    let (mut file, len) = open_regular(path).map_err(|e| {
        use std::io::ErrorKind;
        let next = match e.kind() {
            ErrorKind::NotFound if under_references(path) => {
                " (check the path; references are regenerated by scripts/)"
            }
            ErrorKind::NotFound => " (check the path)",
            ErrorKind::PermissionDenied => " (check the file's permissions)",
            _ => "",
        };
        err(format!("{e}{next}"))
    })?;
    check_header(&mut file, len).map_err(err)?;
    file.rewind().map_err(|e| err(e.to_string()))?;
    let array = ArrayD::<f64>::read_npy(std::io::BufReader::new(file)).map_err(|e| match e {
        // The sizes were checked: an I/O error here is the device's or the system's.
        ReadNpyError::Io(e) => err(e.to_string()),
        e => err(damaged(e.to_string())),
    })?;
    if let Some((i, v)) = array.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(err(format!(
            "value {v} at {:?}: inputs and references must be finite (replace or mask it in numpy first)",
            crate::check::unravel(i, array.shape())
        )));
    }
    Ok(array)
}

/// Distinguishes the temporary files of one process's concurrent writes.
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes `array` as a float64 `.npy` file at `path`, which must not exist: the harness never
/// overwrites a file.
///
/// The array goes to a temporary file in the same folder (`.<name>.<pid>-<n>.tmp`), which is
/// flushed and synced, and only then linked under `path`: `hard_link` fails if `path` has
/// appeared meanwhile, so no file is ever replaced (a rename would replace it). On any
/// failure the temporary file is removed, so `path` holds either the whole array or nothing
/// (a full disk leaves no cut `.npy` behind, and a retry is not refused as "exists"). Where
/// the file system has no hard links (FAT, some network file systems), the temporary file is
/// renamed after one more check that `path` is free.
pub fn write_f64(path: &Path, array: &ArrayD<f64>) -> Result<(), KernelError> {
    let err = |reason: String| KernelError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let exists =
        || err("the file exists (the harness never overwrites a file: choose another name)".into());
    // Checked first, so that the message says "exists" only when it does.
    match std::fs::symlink_metadata(path) {
        Ok(_) => return Err(exists()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e.to_string())),
    }
    let (tmp, file) = temporary(path).map_err(|e| {
        let folder = folder_of(path);
        err(format!(
            "{e} (creating a file in {}: check that the folder exists and is writable)",
            folder.display()
        ))
    })?;
    let failed = |why: String| {
        let _ = std::fs::remove_file(&tmp);
        err(format!("{why} (nothing was left under this name)"))
    };
    let written = (|| -> Result<(), String> {
        let mut w = BufWriter::new(file);
        array.write_npy(&mut w).map_err(|e| e.to_string())?;
        // Flushed here, where its error is seen (dropping a BufWriter discards it).
        w.flush().map_err(|e| e.to_string())?;
        let file = w.into_inner().map_err(|e| e.error().to_string())?;
        file.sync_all().map_err(|e| e.to_string())
    })();
    if let Err(why) = written {
        return Err(failed(why));
    }
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            // The array is complete under its name; a temporary name left behind (removal
            // failing right after a link) would be harmless, so it is not an error.
            let _ = std::fs::remove_file(&tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&tmp);
            Err(exists())
        }
        Err(_) => {
            // No hard links here: check, then rename (the one window where a file created
            // at `path` in between could be replaced).
            if std::fs::symlink_metadata(path).is_ok() {
                let _ = std::fs::remove_file(&tmp);
                return Err(exists());
            }
            std::fs::rename(&tmp, path).map_err(|e| failed(e.to_string()))
        }
    }
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new temporary file beside `path` (created, never opened if it exists).
fn temporary(path: &Path) -> Result<(PathBuf, File), std::io::Error> {
    let name = path.file_name().unwrap_or(path.as_os_str());
    loop {
        let n = TEMPORARY.fetch_add(1, Ordering::Relaxed);
        let mut tmp = OsString::from(".");
        tmp.push(name);
        tmp.push(format!(".{}-{n}.tmp", std::process::id()));
        let tmp = folder_of(path).join(tmp);
        match File::create_new(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // Left by an earlier process with the same id: take the next number.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Loads a reference made of named files.
pub fn read_output(files: &[(String, PathBuf)]) -> Result<Output, KernelError> {
    let arrays = files
        .iter()
        .map(|(name, path)| Ok((name.clone(), read_f64(path)?)))
        .collect::<Result<_, KernelError>>()?;
    Ok(Output { arrays })
}
