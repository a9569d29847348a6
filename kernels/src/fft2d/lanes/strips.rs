//! Spectra of real images stored *strip-major*, as `deconv/*/lanes` and the PSF's lane
//! composite keep them: strip s holds spectrum columns `s·W .. s·W+W` (W = `LANES`), all
//! R rows of it contiguous, each row one [`Split`] value, so that a column transform takes
//! a strip as it is (lane j = column s·W+j). Rows meet the lanes through W × W tile
//! transposes: these helpers move W rows at a time between the strips and one row per
//! lane.
//!
//! R need not be a multiple of W: the last block of a view may hold fewer than W rows
//! (a *partial* block). Its missing lanes are *dummy* lanes: [`get_across`] fills them
//! with copies of the view's last row, so that they compute exactly what that row's lane
//! computes (finite where it is; lanes never mix), and [`tiles_out`] never stores them.

use ndarray::ArrayViewMut2;

use super::{LaneFloat, Split, prefetch, prefetch_at};

/// `view` is the spectrum as a (strip, row) matrix (or a block of its rows). The W × W tile
/// at (strip, rows i0..i0+W) turned so that lanes run across rows:
/// `across[s·W + j]` lane i = spectrum row i0+i, column s·W+j. Where the view ends before
/// i0 + W, lanes past its end are copies of its last row (dummy lanes).
pub fn get_across<T: LaneFloat>(
    view: &ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
    across: &mut [Split<T::V>],
) {
    let w = T::LANES;
    let burst = burst::<T>(view);
    let mut tile = [Split::default(); 16];
    for (strip, out) in view.outer_iter().zip(across.chunks_exact_mut(w)) {
        let rows = strip.to_slice().expect("a strip's rows are contiguous");
        // The next block's tile of this strip is read after this block's transforms:
        // where the tiles are few, ask for it now ([`NextTiles`] otherwise).
        if let Some(next) = rows.get(i0 + w..i0 + 2 * w).filter(|_| burst) {
            prefetch(next);
        }
        match rows.get(i0..i0 + w) {
            Some(full) => T::transpose(full, out),
            None => {
                // A partial block: its rows, then the last one again.
                let real = &rows[i0..];
                tile[..real.len()].copy_from_slice(real);
                tile[real.len()..w].fill(rows[rows.len() - 1]);
                T::transpose(&tile[..w], out);
            }
        }
    }
}

/// Up to this many bytes of tiles in a block (64 KB at 1000², f64 or f32), [`get_across`]
/// asks for the next block's tiles all at once; above it (257 KB at 4096², 313 KB at
/// 3000 × 5000), [`NextTiles`] spreads the requests over the block's work.
const BURST: usize = 128 * 1024;

/// Whether the next block's tiles of `view` are asked for at once (see [`BURST`]).
fn burst<T: LaneFloat>(view: &ArrayViewMut2<'_, Split<T::V>>) -> bool {
    view.nrows() * T::LANES * size_of::<Split<T::V>>() <= BURST
}

/// The tiles of the block after the one at row `i0` of `view`, for a row pass to ask for
/// value by value as its round trip reaches each position ([`NextTiles::fetch`]): the
/// tiles of one block are a strip apart each, too scattered for the hardware prefetcher
/// to guess. Asked for all at once by [`get_across`], at the start of a block (~4100
/// cache lines at 4096²), the next block's loads in `get_across` still waited on memory
/// (13 % of a 4096² f32 run's samples). Spread, against the burst (`harness compare
/// --against-bin`, 25 rounds): 4096² f32 0.945 [0.905–0.998], 3000 × 5000 f32 0.935
/// [0.893–0.996], f64 no difference at either; but at 1000² the burst was faster (spread:
/// f64 1.032 [1.025–1.038], f32 1.053 [1.046–1.060]), hence [`BURST`]. A view whose
/// tiles are asked for in a burst gets a `NextTiles` that asks for nothing.
#[derive(Clone, Copy)]
pub struct NextTiles<V> {
    /// Strip 0 of the view; no value is read through it, it only names addresses.
    base: *const Split<V>,
    /// Values from one strip to the next.
    stride: usize,
    /// The view's strips; 0 where [`get_across`] asks for the tiles itself.
    strips: usize,
    /// The next block's first row and the view's row count.
    row0: usize,
    rows: usize,
}

impl<V> NextTiles<V> {
    pub fn new<T: LaneFloat<V = V>>(view: &ArrayViewMut2<'_, Split<V>>, i0: usize) -> Self {
        let mut ahead = Self::spread::<T>(view, i0);
        if burst::<T>(view) {
            ahead.strips = 0;
        }
        ahead
    }

    /// [`NextTiles::new`] whatever the view's size.
    fn spread<T: LaneFloat<V = V>>(view: &ArrayViewMut2<'_, Split<V>>, i0: usize) -> Self {
        NextTiles {
            base: view.as_ptr(),
            stride: view.strides()[0] as usize,
            strips: view.nrows(),
            row0: i0 + T::LANES,
            rows: view.ncols(),
        }
    }

    /// Asks for value `v` (strip v / W, row v mod W of the next block), and for value
    /// v + M: a round trip's `op` sees M = C/2 positions, and the tiles hold C/2 + 1 values
    /// rounded up to whole strips (at most M + W). A prefetch, no effect on any result.
    #[inline(always)]
    pub fn fetch<T: LaneFloat<V = V>>(&self, v: usize, m: usize) {
        for v in [v, v + m] {
            if let Some(at) = self.offset::<T>(v) {
                prefetch_at(self.base.wrapping_add(at));
            }
        }
    }

    /// Where value `v` of the next block's tiles is, from strip 0 of the view: nothing past
    /// the view's strips or rows.
    #[inline(always)]
    fn offset<T: LaneFloat<V = V>>(&self, v: usize) -> Option<usize> {
        let (strip, row) = (v / T::LANES, self.row0 + v % T::LANES);
        (strip < self.strips && row < self.rows).then_some(strip * self.stride + row)
    }
}

/// The inverse of [`get_across`], as a `store(k, X[k])` for
/// [`RealLanesFft::r2c_each`](super::RealLanesFft::r2c_each): each
/// W spectrum values, as they come out, transposed into their strip's tile (no pass
/// over a row-major copy of the spectrum). In a partial block only the view's rows are
/// stored; the dummy lanes are dropped.
pub fn tiles_out<'a, T: LaneFloat>(
    view: &'a mut ArrayViewMut2<'_, Split<T::V>>,
    i0: usize,
    m: usize,
) -> impl FnMut(usize, Split<T::V>) + 'a {
    let w = T::LANES;
    let real = view.ncols().saturating_sub(i0).min(w);
    let mut tile = [Split::default(); 16];
    let mut turned = [Split::default(); 16];
    // Called once per spectrum value from the r2c's fold: left out of line, it cost a
    // call and a trip of the value through the stack each time.
    #[inline(always)]
    move |k, x| {
        tile[k % w] = x;
        if k % w == w - 1 || k == m {
            // The last strip's lanes past X[M] stay zero.
            tile[k % w + 1..w].fill(Split::default());
            let mut strip = view.row_mut(k / w);
            let out = strip.as_slice_mut().expect("a strip's rows are contiguous");
            if real == w {
                T::transpose(&tile[..w], &mut out[i0..i0 + w]);
            } else {
                T::transpose(&tile[..w], &mut turned[..w]);
                out[i0..i0 + real].copy_from_slice(&turned[..real]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};

    use super::*;

    /// Spectrum value (strip s, row r), lane j: a number unique to (s, r, j, part).
    fn value(s: usize, r: usize, j: usize, part: usize) -> f64 {
        (1000 * s + 10 * r + j) as f64 + 0.5 * part as f64
    }

    fn spectrum(strips: usize, rows: usize) -> Array2<Split<wide::f64x8>> {
        Array2::from_shape_fn((strips, rows), |(s, r)| {
            let mut x = Split::<wide::f64x8>::default();
            let v: &mut [f64] = bytemuck::cast_slice_mut(std::slice::from_mut(&mut x));
            for (k, e) in v.iter_mut().enumerate() {
                *e = value(s, r, k % 8, k / 8);
            }
            x
        })
    }

    fn reals<D: ndarray::Dimension>(a: &ndarray::Array<Split<wide::f64x8>, D>) -> Vec<f64> {
        let v = a.as_slice().expect("standard layout");
        bytemuck::cast_slice(v).to_vec()
    }

    fn lane(x: &Split<wide::f64x8>, part: usize, l: usize) -> f64 {
        bytemuck::cast_slice::<_, f64>(std::slice::from_ref(x))[8 * part + l]
    }

    #[test]
    fn the_next_tiles_are_the_next_blocks_and_nothing_past_the_view() {
        // 3 strips of 20 rows, 24 values apart: blocks at rows 0, 8 and 16 (partial).
        let (strips, rows, stride, w) = (3, 20, 24, 8);
        let mut a = vec![Split::<wide::f64x8>::default(); strips * stride];
        let view = ArrayViewMut2::from_shape((strips, rows).strides((stride, 1)), &mut a[..])
            .expect("strips × stride");
        let ahead = NextTiles::spread::<f64>(&view, 0);
        assert_eq!(ahead.offset::<f64>(0), Some(w), "strip 0, row 8");
        assert_eq!(
            ahead.offset::<f64>(w + 3),
            Some(stride + w + 3),
            "strip 1, row 11"
        );
        assert_eq!(ahead.offset::<f64>(strips * w), None, "no fourth strip");
        let last = NextTiles::spread::<f64>(&view, 8);
        assert_eq!(
            last.offset::<f64>(2 * w + 3),
            Some(2 * stride + 19),
            "strip 2, row 19"
        );
        assert_eq!(
            last.offset::<f64>(2 * w + 4),
            None,
            "row 20 is past the view"
        );
        assert_eq!(NextTiles::spread::<f64>(&view, 16).offset::<f64>(0), None);
        // This view's tiles are few: get_across asks for them, NextTiles for none.
        assert!(burst::<f64>(&view));
        assert_eq!(NextTiles::new::<f64>(&view, 0).offset::<f64>(0), None);
    }

    #[test]
    fn a_partial_block_reads_copies_of_the_last_row_and_stores_only_its_rows() {
        // 2 strips of 11 rows: block 1 (rows 8..16) holds rows 8, 9, 10 and 5 dummy lanes.
        let (strips, rows, w) = (2, 11, 8);
        let mut a = spectrum(strips, rows);
        let before = a.clone();
        let mut across = vec![Split::default(); strips * w];
        get_across::<f64>(&a.view_mut(), 8, &mut across);
        for s in 0..strips {
            for j in 0..w {
                for (l, r) in [(0, 8), (2, 10), (3, 10), (7, 10)] {
                    for part in [0, 1] {
                        let got = lane(&across[s * w + j], part, l);
                        assert_eq!(got, value(s, r, j, part), "strip {s}, col {j}, lane {l}");
                    }
                }
            }
        }
        // Back, with X[k] = across[k] (M = 2W − 1: every lane of both strips): rows
        // 8..11 get what was read from them, rows 0..8 are untouched.
        {
            let mut view = a.view_mut();
            let mut store = tiles_out::<f64>(&mut view, 8, strips * w - 1);
            for (k, x) in across.iter().enumerate() {
                store(k, *x);
            }
        }
        assert_eq!(reals(&a), reals(&before), "a partial block's round trip");
        // The last strip's lanes past X[M] are zero, only in the real rows.
        {
            let mut view = a.view_mut();
            let mut store = tiles_out::<f64>(&mut view, 8, w);
            for (k, x) in across.iter().take(w + 1).enumerate() {
                store(k, *x);
            }
        }
        for r in 8..rows {
            assert_eq!(lane(&a[[1, r]], 0, 0), value(1, r, 0, 0), "row {r} lane 0");
            assert_eq!(lane(&a[[1, r]], 0, 1), 0.0, "row {r} lane 1");
        }
        let row7 = |x: &Array2<Split<wide::f64x8>>| reals(&x.column(7).to_owned());
        assert_eq!(row7(&a), row7(&before), "rows before the block untouched");
    }
}
