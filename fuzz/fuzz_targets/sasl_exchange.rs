#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kmirror_protocol::fuzzing::sasl_exchange(data));
