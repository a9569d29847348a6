//! A kernel's 2-D output as a picture: a colour map (viridis, log or linear scale chosen
//! from the data), encoded as PNG (the `png` crate) and inlined in the HTML as base64.
//! Also the blank-screenshot check used by `scripts/check_report_in_chromium.sh`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ndarray::ArrayD;

/// How the values map to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// log₁₀ between `lo` and `hi` (values below `lo` take the lowest colour).
    Log {
        lo: f64,
        hi: f64,
    },
    Linear {
        lo: f64,
        hi: f64,
    },
}

/// Decades shown below the maximum on a log scale: deeper values (rounding noise in the
/// zeros of a diffraction pattern, say) would otherwise take most of the colour range.
pub const LOG_DECADES: f64 = 10.0;

impl Scale {
    /// Log when every value is ≥ 0 and the positive ones span more than two decades (a
    /// diffraction peak, a PSF); linear otherwise.
    pub fn for_data(values: &[f64]) -> Scale {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (min, max) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if !min.is_finite() {
            return Scale::Linear { lo: 0.0, hi: 1.0 };
        }
        let min_pos = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        if min >= 0.0 && max > 0.0 && max / min_pos > 100.0 {
            Scale::Log {
                lo: min_pos.max(max * 10f64.powf(-LOG_DECADES)),
                hi: max,
            }
        } else {
            Scale::Linear {
                lo: min,
                hi: if max > min { max } else { min + 1.0 },
            }
        }
    }

    /// Position of `v` in [0, 1].
    pub fn unit(&self, v: f64) -> f64 {
        let t = match *self {
            Scale::Log { lo, hi } => {
                if v <= lo {
                    0.0
                } else {
                    (v / lo).log10() / (hi / lo).log10()
                }
            }
            Scale::Linear { lo, hi } => (v - lo) / (hi - lo),
        };
        if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) }
    }

    pub fn describe(&self) -> String {
        match *self {
            Scale::Log { lo, hi } => format!("log scale, {lo:.1e} … {hi:.2e}"),
            Scale::Linear { lo, hi } => format!("linear scale, {lo:.2e} … {hi:.2e}"),
        }
    }
}

/// Viridis (matplotlib's default colour map), as a degree-6 polynomial fit per channel
/// (error below one 8-bit level).
pub fn viridis(t: f64) -> [u8; 3] {
    const C: [[f64; 3]; 7] = [
        [
            0.277_727_327_223_417_7,
            0.005_407_344_544_966_578,
            0.334_099_805_335_306_1,
        ],
        [
            0.105_093_043_108_577_4,
            1.404_613_529_898_575,
            1.384_590_162_594_685,
        ],
        [
            -0.330_861_828_725_556_3,
            0.214_847_559_468_213,
            0.095_095_163_028_236_59,
        ],
        [
            -4.634_230_498_983_486,
            -5.799_100_973_351_585,
            -19.332_440_956_279_87,
        ],
        [
            6.228_269_936_347_081,
            14.179_933_366_805_09,
            56.690_552_600_681_05,
        ],
        [
            4.776_384_997_670_288,
            -13.745_145_377_746_01,
            -65.353_032_633_372_34,
        ],
        [
            -5.435_455_855_934_631,
            4.645_852_612_178_535,
            26.312_435_249_583_2,
        ],
    ];
    let t = t.clamp(0.0, 1.0);
    let mut rgb = [0u8; 3];
    for (ch, out) in rgb.iter_mut().enumerate() {
        let v = C.iter().rev().fold(0.0, |acc, c| acc * t + c[ch]);
        *out = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    rgb
}

/// An RGB PNG of a 2-D array (row 0 at the top, as numpy/matplotlib `imshow` shows it).
pub fn png_of(array: &ArrayD<f64>, scale: Scale) -> Result<Vec<u8>> {
    let &[rows, cols] = array.shape() else {
        bail!("an image needs a 2-D array, not shape {:?}", array.shape());
    };
    let mut pixels = Vec::with_capacity(rows * cols * 3);
    for v in array.iter() {
        pixels.extend_from_slice(&viridis(scale.unit(*v)));
    }
    encode_png(&pixels, cols as u32, rows as u32)
}

/// A horizontal colour bar, `width` × 1 pixels (stretched by the page).
pub fn colour_bar_png(width: u32) -> Result<Vec<u8>> {
    let pixels: Vec<u8> = (0..width)
        .flat_map(|i| viridis(i as f64 / (width - 1).max(1) as f64))
        .collect();
    encode_png(&pixels, width, 1)
}

/// An 8-bit RGB PNG of `width` × `height` pixels.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

/// Standard base64 (RFC 4648, with padding), for `data:` URIs.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                s.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Most pixels a PNG may declare: a full-page screenshot is tens of megapixels; more is a
/// damaged file or a decompression bomb (65 bytes can declare 100000 × 100000).
pub const MAX_PNG_PIXELS: u64 = 200_000_000;

/// Deflate expands at most about 1032 : 1: a PNG declaring more pixel bytes than that
/// ratio allows from its file length cannot hold them.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// Decodes a PNG to 8-bit RGBA pixels (width, height, pixels). The size the header declares
/// is checked against [`MAX_PNG_PIXELS`] and the file's length before anything is
/// allocated.
pub fn decode_png(path: &Path) -> Result<(u32, u32, Vec<[u8; 4]>)> {
    crate::results::check_regular(path)?;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| {
        anyhow::anyhow!(
            "{} is not a PNG ({e}): give a PNG screenshot",
            path.display()
        )
    })?;
    let (w, h) = (reader.info().width, reader.info().height);
    let pixels = u64::from(w) * u64::from(h);
    // The fewest bytes those pixels take before compression (one bit each, a filter byte
    // per row), in u64 so that no declared size can overflow.
    let raw = u64::from(h) * (1 + u64::from(w).div_ceil(8));
    if pixels > MAX_PNG_PIXELS || raw > MAX_DEFLATE_RATIO.saturating_mul(len) + (1 << 16) {
        bail!(
            "{} declares {w}×{h} pixels, {} in a file of {len} bytes: damaged or a decompression bomb (at most {MAX_PNG_PIXELS} pixels, as much as the file can hold), not decoded",
            path.display(),
            if pixels > MAX_PNG_PIXELS {
                "too many"
            } else {
                "more than it can hold"
            }
        );
    }
    let size = reader
        .output_buffer_size()
        .with_context(|| format!("{}: PNG too large", path.display()))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| {
        anyhow::anyhow!(
            "{} is a damaged PNG ({e}): take the screenshot again",
            path.display()
        )
    })?;
    let buf = &buf[..info.buffer_size()];
    let px: Vec<[u8; 4]> = match info.color_type {
        png::ColorType::Rgba => buf.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(),
        png::ColorType::Rgb => buf.chunks(3).map(|c| [c[0], c[1], c[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks(2).map(|c| [c[0], c[0], c[0], c[1]]).collect(),
        png::ColorType::Grayscale => buf.iter().map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => bail!(
            "{}: indexed PNG after expansion: unexpected",
            path.display()
        ),
    };
    Ok((info.width, info.height, px))
}

/// The share of pixels that differ from the most common colour, and the number of
/// distinct colours: a rendered report has text, charts and images; a blank page has one
/// colour.
pub fn ink(pixels: &[[u8; 4]]) -> (f64, usize) {
    let mut counts = std::collections::HashMap::new();
    for p in pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    let share = if pixels.is_empty() {
        0.0
    } else {
        1.0 - most as f64 / pixels.len() as f64
    };
    (share, counts.len())
}

/// `harness check-png`: fails (returns false) on a blank or near-blank screenshot.
pub fn check_png(path: &Path, min_ink: f64) -> Result<bool> {
    let (w, h, px) = decode_png(path)?;
    let (share, colours) = ink(&px);
    let ok = share >= min_ink && colours >= 16;
    println!(
        "{}: {w}×{h}, {:.1}% of pixels differ from the background, {colours} colours: {}",
        path.display(),
        100.0 * share,
        if ok { "not blank" } else { "BLANK" }
    );
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn viridis_ends() {
        // matplotlib: viridis(0) = (68, 1, 84), viridis(1) = (253, 231, 37).
        let [r, g, b] = viridis(0.0);
        assert!(r.abs_diff(68) <= 4 && g.abs_diff(1) <= 4 && b.abs_diff(84) <= 4);
        let [r, g, b] = viridis(1.0);
        assert!(r.abs_diff(253) <= 4 && g.abs_diff(231) <= 4 && b.abs_diff(37) <= 10);
    }

    #[test]
    fn scale_is_log_for_positive_wide_data() {
        assert!(matches!(
            Scale::for_data(&[0.0, 1e-3, 1e6]),
            Scale::Log { .. }
        ));
        assert!(matches!(
            Scale::for_data(&[-1.0, 1e6]),
            Scale::Linear { .. }
        ));
        assert!(matches!(Scale::for_data(&[1.0, 2.0]), Scale::Linear { .. }));
    }
}
