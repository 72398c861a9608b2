#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| kmirror::internal_topics::fuzzing::internal_records(data)
);
