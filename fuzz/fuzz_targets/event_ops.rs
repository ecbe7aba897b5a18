//! Fuzz target: bytes decode into an event-operation sequence, played against the bus, gate
//! and memory store with the reference model as oracle (`eventgate::testkit::fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Err(divergence) = eventgate::testkit::fuzz::event_ops(bytes) {
        panic!("bus and model diverged: {divergence}");
    }
});
