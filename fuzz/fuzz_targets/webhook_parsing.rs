//! Fuzz target: hostile signature, timestamp, secret and `Retry-After` values for the
//! webhook receiver's parsers; nothing may panic and nothing may verify without the right MAC
//! (`eventgate::testkit::fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Err(violation) = eventgate::testkit::fuzz::webhook_parsing(bytes) {
        panic!("webhook oracle failed: {violation}");
    }
});
