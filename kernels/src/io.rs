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

/// Checks the header of a float64 `.npy` file of `file_len` bytes, read from its start:
/// every length it declares (its own, then the data's) against the file's real length, so
/// that ndarray-npy allocates nothing from an unchecked number.
fn check_header(file: &mut File, file_len: u64) -> Result<(), String> {
    let damaged = |what: String| {
        format!(
            "{what} (expected an intact float64 .npy file: in numpy, np.save(path, \
             a.astype(np.float64)))"
        )
    };
    let mut preamble = [0u8; 12];
    if file_len < 10 {
        return Err(damaged(format!(
            "{file_len} bytes: shorter than an .npy preamble"
        )));
    }
    file.read_exact(&mut preamble[..10])
        .map_err(|e| format!("reading the preamble: {e}"))?;
    if preamble[..6] != *MAGIC {
        return Err(damaged(
            "not an .npy file (no \\x93NUMPY magic at its start)".into(),
        ));
    }
    let (major, minor) = (preamble[6], preamble[7]);
    let (prefix, header_len) = match (major, minor) {
        (1, 0) => (10u64, u16::from_le_bytes([preamble[8], preamble[9]]) as u64),
        (2 | 3, 0) if file_len < 12 => {
            return Err(damaged(format!(
                "{file_len} bytes: shorter than an .npy version {major} preamble"
            )));
        }
        (2 | 3, 0) => {
            file.read_exact(&mut preamble[10..12])
                .map_err(|e| format!("reading the preamble: {e}"))?;
            let [a, b, c, d] = [preamble[8], preamble[9], preamble[10], preamble[11]];
            (12u64, u32::from_le_bytes([a, b, c, d]) as u64)
        }
        _ => {
            return Err(damaged(format!(
                ".npy format version {major}.{minor}: versions 1.0, 2.0 and 3.0 are read"
            )));
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(damaged(format!(
            "the header declares {header_len} bytes, more than the {MAX_HEADER_BYTES} numpy \
             itself accepts"
        )));
    }
    if prefix + header_len > file_len {
        return Err(damaged(format!(
            "the header declares {header_len} bytes but the file holds {} after its preamble",
            file_len - prefix
        )));
    }
    // The dictionary ({'descr': …, 'fortran_order': …, 'shape': …}) is parsed by
    // ndarray-npy's own header parser, on these bytes only (bounded above): one parser for
    // what the reader will accept.
    let mut bytes = preamble[..prefix as usize].to_vec();
    bytes.resize((prefix + header_len) as usize, 0);
    file.read_exact(&mut bytes[prefix as usize..])
        .map_err(|e| damaged(format!("reading the header: {e}")))?;
    let header = Header::from_reader(&mut std::io::Cursor::new(bytes))
        .map_err(|e| damaged(format!("error parsing header: {e}")))?;
    // ndarray-npy allocates shape × 8 bytes before it checks the type: the type first.
    let descr = header.type_descriptor.as_string().map(String::as_str);
    if !matches!(descr, Some("<f8" | ">f8")) {
        return Err(damaged(format!(
            "dtype {} is not float64",
            header.type_descriptor
        )));
    }
    let declared = header
        .shape
        .iter()
        .try_fold(8u64, |bytes, &n| bytes.checked_mul(n as u64));
    let actual = file_len - prefix - header_len;
    match declared {
        Some(declared) if declared == actual => Ok(()),
        Some(declared) => Err(damaged(format!(
            "the header declares shape {:?} of float64, {declared} bytes of data, but the file \
             holds {actual} bytes of data",
            header.shape
        ))),
        None => Err(damaged(format!(
            "the header declares shape {:?}: more bytes than a 64-bit size can count, but the \
             file holds {actual} bytes of data",
            header.shape
        ))),
    }
}

/// Reads a float64 `.npy` file (any shape; C or Fortran order and either endianness are
/// accepted and converted). Refuses other dtypes, damaged files and NaN/Inf values, each
/// with a message that says what to do. The header is checked against the file's length
/// before anything is allocated from it (see the module docs); a FIFO, a device or a folder
/// is refused before it is opened.
pub fn read_f64(path: &Path) -> Result<ArrayD<f64>, KernelError> {
    let err = |reason: String| KernelError::Read {
        path: path.to_path_buf(),
        reason,
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
        e => err(format!(
            "{e} (expected an intact float64 .npy file: in numpy, np.save(path, a.astype(np.float64)))"
        )),
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
