//! Every input that ever broke a fuzz target, and the seed corpus, run again
//! through the same entry points (`sync_core::fuzz_entry`) as a plain test:
//! `fuzz/regressions/{target}/*` and `fuzz/seeds/{target}/*`.

use std::path::PathBuf;

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
}

#[test]
fn every_kept_input_runs_clean() {
    let mut ran = 0;
    for target in sync_core::fuzz_entry::TARGETS {
        for kind in ["regressions", "seeds"] {
            for file in inputs(kind, target) {
                let data = std::fs::read(&file).expect("read input");
                sync_core::fuzz_entry::run(target, &data);
                ran += 1;
            }
        }
    }
    assert!(
        ran >= sync_core::fuzz_entry::TARGETS.len(),
        "only {ran} inputs found"
    );
    eprintln!("{ran} kept fuzz inputs ran clean");
}
