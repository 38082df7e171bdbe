//! The built components import only what `wit/world.wit` and WASI 0.2
//! provide, and export the WASI 0.2 HTTP handler: the contract every Spin
//! platform (and the test host) implements.

use sfsync_tests::app::{ensure_built, root};
use sfsync_tests::host::{component_exports, component_imports};

/// The `import x;` lines of wit/world.wit.
fn world_imports() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("wit/world.wit")).expect("wit/world.wit");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .map(|l| l.trim_end_matches(';').trim().to_string())
        .collect()
}

#[test]
fn components_import_only_the_host_contract() {
    ensure_built();
    let world = world_imports();
    assert_eq!(
        world,
        [
            "fermyon:spin/key-value@2.0.0",
            "fermyon:spin/variables@2.0.0"
        ]
    );
    for file in ["record_created", "field_updated", "resend", "admin"] {
        let path = root().join(format!("target/wasm32-wasip2/release/{file}.wasm"));
        let imports = component_imports(&path).expect("imports");
        for name in &imports {
            let wasi_02 = name.starts_with("wasi:") && name.contains("@0.2.");
            assert!(
                wasi_02 || world.contains(name),
                "{file} imports {name}, which is neither WASI 0.2 nor in wit/world.wit"
            );
        }
        // Every function reads its settings; those that keep sync status use the store.
        let mut needed = vec!["fermyon:spin/variables@2.0.0"];
        if file != "resend" {
            needed.push("fermyon:spin/key-value@2.0.0");
        }
        for needed in needed {
            assert!(
                imports.iter().any(|i| i == needed),
                "{file} does not import {needed}: {imports:?}"
            );
        }
        let exports = component_exports(&path).expect("exports");
        assert!(
            exports
                .iter()
                .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
            "{file} exports {exports:?}"
        );
        eprintln!("{file}: imports {imports:?}, exports {exports:?}");
    }
}
