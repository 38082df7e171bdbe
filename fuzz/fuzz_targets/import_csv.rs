#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sync_core::fuzz_entry::import_csv(data));
