//! Spectra of real images stored *strip-major*, as `deconv/*/lanes` and the PSF's lane
//! composite keep them: strip s holds spectrum columns `s·W .. s·W+W` (W = `LANES`), all
//! R rows of it contiguous, each row one [`Split`] value, so that a column transform takes
//! a strip as it is (lane j = column s·W+j). Rows meet the lanes through W × W tile
//! transposes: these helpers move W rows at a time between the strips and one row per
//! lane.

use ndarray::ArrayViewMut2;

use super::{LaneFloat, Split, prefetch};

/// `view` is the spectrum as a (strip, row) matrix (or a block of its rows). The W × W tile
/// at (strip, rows i0..i0+W) turned so that lanes run across rows:
/// `across[s·W + j]` lane i = spectrum row i0+i, column s·W+j.
pub fn get_across<T: LaneFloat>(
    view: &ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
    across: &mut [Split<T::V>],
) {
    let w = T::LANES;
    for (strip, out) in view.outer_iter().zip(across.chunks_exact_mut(w)) {
        let rows = strip.to_slice().expect("a strip's rows are contiguous");
        // The next block's tile of this strip is read after this block's transforms:
        // start fetching it now (the tiles of one block are a strip apart each, too
        // scattered for the hardware prefetcher to guess).
        if let Some(next) = rows.get(i0 + w..i0 + 2 * w) {
            prefetch(next);
        }
        T::transpose(&rows[i0..i0 + w], out);
    }
}

/// The inverse of [`get_across`], as a `store(k, X[k])` for
/// [`RealLanesFft::r2c_each`](super::RealLanesFft::r2c_each): each
/// W spectrum values, as they come out, transposed into their strip's tile (no pass
/// over a row-major copy of the spectrum).
pub fn tiles_out<'a, T: LaneFloat>(
    view: &'a mut ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
    m: usize,
) -> impl FnMut(usize, Split<T::V>) + 'a {
    let w = T::LANES;
    let mut tile = [Split::default(); 16];
    move |k, x| {
        tile[k % w] = x;
        if k % w == w - 1 || k == m {
            // The last strip's lanes past X[M] stay zero.
            tile[k % w + 1..w].fill(Split::default());
            let mut strip = view.row_mut(k / w);
            let out = strip.as_slice_mut().expect("a strip's rows are contiguous");
            T::transpose(&tile[..w], &mut out[i0..i0 + w]);
        }
    }
}
