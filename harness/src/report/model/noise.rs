//! What each run's `run.json` says of the machine's state while it ran: the drift its probe
//! saw between rows, and the ceilings it measured far below those kept for the machine.
//! Shown in the report's machines and runs section, one line each.

use crate::report::data::Dataset;

/// One line per fact, each naming its run; none for runs older than these fields.
pub fn machine_notes(data: &Dataset) -> Vec<String> {
    let mut notes = Vec::new();
    for run in &data.runs {
        let Some(m) = &run.manifest else { continue };
        if let Some(d) = &m.drift {
            let flag = if d.flagged() {
                " — more than 10 %: compare variants measured at different moments with care \
                 (`harness compare` pairs them round by round)"
            } else {
                ""
            };
            notes.push(format!("Run {}: {}{flag}.", run.id, d.describe()));
        }
        for b in m.ceilings_below_kept.iter().filter(|b| b.far_below) {
            notes.push(format!(
                "Run {}: {}: the machine was busy or throttled when it started; % of roofline \
                 uses the kept value.",
                run.id,
                b.describe()
            ));
        }
    }
    notes
}
