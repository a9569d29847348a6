//! The registry is complete: every variant file is registered, every case lists every
//! standard strategy (as a variant or as "n/a" with a reason), ids are unique.

use std::collections::BTreeSet;
use std::path::Path;

use kernels::registry;
use kernels::{Availability, Strategy};

#[test]
fn every_variant_file_is_registered() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for kernel in registry::kernels() {
        let registered: BTreeSet<String> = kernel
            .variants()
            .iter()
            .map(|v| {
                Path::new(v.file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let dir = src.join(kernel.name());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if path.extension().is_some_and(|e| e == "rs") && text.contains("impl Variant<") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    registered.contains(&name),
                    "{} implements a variant that {}::variants() does not list",
                    path.display(),
                    kernel.name()
                );
            }
        }
    }
}

#[test]
fn every_case_lists_every_standard_strategy() {
    for kernel in registry::kernels() {
        for case in kernel.cases() {
            let instance = kernel
                .instance(case.name, &kernel.defaults(case.name), &[])
                .unwrap();
            let variants = instance.variants();
            for strategy in Strategy::STANDARD {
                let of_strategy: Vec<_> = variants
                    .iter()
                    .filter(|v| v.info.strategy == strategy)
                    .collect();
                assert!(
                    !of_strategy.is_empty(),
                    "{}/{} has no {strategy} variant: list it, as n/a with its reason if it cannot apply",
                    kernel.name(),
                    case.name
                );
                for v in of_strategy {
                    if let Availability::NotApplicable(reason) | Availability::Skipped(reason) =
                        instance.probe(*v)
                    {
                        assert!(
                            !reason.trim().is_empty(),
                            "{}/{}/{} has no reason",
                            kernel.name(),
                            case.name,
                            v.name()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn ids_are_unique_and_well_formed() {
    let mut seen = BTreeSet::new();
    for kernel in registry::kernels() {
        for v in kernel.variants() {
            let id = format!("{}/{}", kernel.name(), v.name);
            assert!(seen.insert(id.clone()), "duplicate variant {id}");
            assert!(
                v.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
                "{id}: names are lowercase, digits, - and _"
            );
            assert!(!v.idea.is_empty(), "{id} does not say what it teaches");
        }
    }
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let e = registry::kernel("lue").err().unwrap().to_string();
    assert!(e.contains("laue"), "{e}");
    let laue = registry::kernel("laue").unwrap();
    let e = laue
        .instance("sqare", &laue.defaults("square"), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("square, circle, strained"), "{e}");
    let i = laue
        .instance("square", &laue.defaults("square"), &[])
        .unwrap();
    let e = i.variant("paralel").err().unwrap().to_string();
    assert!(e.contains("parallel"), "{e}");
}
