//! The workshop's commands: `new-variant`, `remove-variant` and `explain` ([`crate::workshop`]).

use anyhow::Result;

use crate::cli::{ExplainArgs, NewVariantArgs, RemoveVariantArgs};
use crate::workshop;

pub fn new_variant(a: &NewVariantArgs) -> Result<()> {
    let root = workshop::workspace_root()?;
    workshop::new_variant(&root, &a.kernel, &a.case, &a.name).map(|_| ())
}

pub fn remove_variant(a: &RemoveVariantArgs) -> Result<()> {
    let root = workshop::workspace_root()?;
    workshop::remove_variant(&root, a.variant.as_deref()).map(|_| ())
}

pub fn explain(a: &ExplainArgs) -> Result<()> {
    workshop::explain(&a.kernel, &a.reports)
}
