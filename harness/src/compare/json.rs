//! A comparison as JSON for other tools (CI dashboards, scripts). The schema is versioned
//! (`"schema": 1`) and documented in reports/README.md ("compare output"): a change that
//! removes or renames a field raises the version.

use serde::Serialize;

use super::{Compared, Comparison, Key, Lone, NotOk, SideInfo};

/// The version of the layout below.
pub const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    schema: u32,
    a: Side<'a>,
    b: Side<'a>,
    same_machine: bool,
    threshold: f64,
    fail_above: Option<f64>,
    rows: Vec<Row<'a>>,
    not_ok: Vec<NotOkRow<'a>>,
    only_in_a: Vec<LoneRow<'a>>,
    only_in_b: Vec<LoneRow<'a>>,
    regressions: Vec<Row<'a>>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct Side<'a> {
    folders: &'a [String],
    run_ids: &'a [String],
    machine: Machine<'a>,
    commits: &'a [String],
    shards: Option<Shards<'a>>,
}

#[derive(Serialize)]
struct Machine<'a> {
    cpu: &'a str,
    cores: usize,
    memory_gib: f64,
    os: &'a str,
}

#[derive(Serialize)]
struct Shards<'a> {
    count: usize,
    selection: &'a str,
}

/// The key's fields, flattened into each row.
#[derive(Serialize)]
struct KeyFields<'a> {
    kernel: &'a str,
    case: &'a str,
    variant: &'a str,
    params: String,
    threads: usize,
    precision: &'static str,
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    key: KeyFields<'a>,
    a_median_s: f64,
    b_median_s: f64,
    ratio: f64,
    ratio_low: Option<f64>,
    ratio_high: Option<f64>,
    verdict: String,
    method: &'static str,
}

#[derive(Serialize)]
struct NotOkRow<'a> {
    #[serde(flatten)]
    key: KeyFields<'a>,
    a_status: &'static str,
    b_status: &'static str,
    a_reason: &'a str,
    b_reason: &'a str,
}

#[derive(Serialize)]
struct LoneRow<'a> {
    #[serde(flatten)]
    key: KeyFields<'a>,
    status: &'static str,
}

fn key(k: &Key) -> KeyFields<'_> {
    KeyFields {
        kernel: &k.kernel,
        case: &k.case,
        variant: &k.variant,
        params: k.params.to_string(),
        threads: k.threads,
        precision: k.precision.as_str(),
    }
}

fn side(s: &SideInfo) -> Side<'_> {
    Side {
        folders: &s.folders,
        run_ids: &s.run_ids,
        machine: Machine {
            cpu: &s.machine.cpu,
            cores: s.machine.cores,
            memory_gib: s.machine.memory_gib,
            os: &s.machine.os,
        },
        commits: &s.commits,
        shards: s.shards.as_ref().map(|(count, selection)| Shards {
            count: *count,
            selection,
        }),
    }
}

fn row(r: &Compared) -> Row<'_> {
    Row {
        key: key(&r.key),
        a_median_s: r.a_median,
        b_median_s: r.b_median,
        ratio: r.ratio,
        ratio_low: r.interval.map(|i| i.0),
        ratio_high: r.interval.map(|i| i.1),
        verdict: r.verdict_text(),
        method: r.method.as_str(),
    }
}

fn not_ok(n: &NotOk) -> NotOkRow<'_> {
    NotOkRow {
        key: key(&n.key),
        a_status: n.a_status.as_str(),
        b_status: n.b_status.as_str(),
        a_reason: &n.a_reason,
        b_reason: &n.b_reason,
    }
}

fn lone(l: &Lone) -> LoneRow<'_> {
    LoneRow {
        key: key(&l.key),
        status: l.status.as_str(),
    }
}

/// The comparison as pretty-printed JSON text (with a final line break).
pub fn render(c: &Comparison) -> anyhow::Result<String> {
    let doc = Doc {
        schema: SCHEMA,
        a: side(&c.a),
        b: side(&c.b),
        same_machine: c.same_machine(),
        threshold: c.threshold,
        fail_above: c.fail_above,
        rows: c.rows.iter().map(row).collect(),
        not_ok: c.not_ok.iter().map(not_ok).collect(),
        only_in_a: c.only_in_a.iter().map(lone).collect(),
        only_in_b: c.only_in_b.iter().map(lone).collect(),
        regressions: c.regressions().map(row).collect(),
        notes: &c.notes,
    };
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}
