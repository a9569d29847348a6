//! How numbers and timelines are written, for every sink: [`fmt`] (times, ratios,
//! percentages, bytes: the terminal tables, the report, the SVGs), [`svg`] (escaping,
//! palettes, the timeline canvas) and [`timeline`] (the run and stage timelines drawn on it).

pub mod fmt;
pub mod svg;
pub mod timeline;
