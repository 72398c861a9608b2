//! Replays `testdata/fuzz/<target>/*` through `kmirror_protocol::fuzzing::<target>`
//! (`kmirror::internal_topics::fuzzing::internal_records` for `internal_records`)
//! on stable, so the fuzz findings and the kept corpus guard every CI run
//! (house-style §5.8; the long runs themselves need nightly and cargo-fuzz).
//!
//! Files named `upstream-*` crashed inside kafka-protocol 0.18.0 itself; the
//! workspace now builds against `vendor/kafka-protocol` (patched), so they
//! replay like every other input.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kmirror_protocol::batch::legacy::LegacyEntry;
use kmirror_protocol::batch::{RecordBatch, records};
use kmirror_protocol::codec::decode_response;
use kmirror_protocol::error::BatchError;
use kmirror_protocol::fuzzing;
use kmirror_protocol::kafka_protocol::messages::{
    InitProducerIdRequest, MetadataRequest, OffsetFetchRequest,
};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Reads one kept input.
fn input(target: &str, name: &str) -> Vec<u8> {
    let path = fuzz_dir().join(target).join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The entry point of cargo-fuzz target `name`: `kmirror_protocol::fuzzing`'s, or one of the
/// kmirror crate's (`internal_records`: MM2 internal-topic records and group metadata).
fn target(name: &str) -> Option<fuzzing::Target> {
    match name {
        "internal_records" => Some(kmirror::internal_topics::fuzzing::internal_records),
        _ => fuzzing::target(name),
    }
}

#[test]
fn fuzz_corpus_replays_without_findings() {
    let mut replayed = 0;
    for dir in sorted_entries(&fuzz_dir()) {
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let target = target(&name)
            .unwrap_or_else(|| panic!("testdata/fuzz/{name}: no fuzzing::{name} entry point"));
        for file in sorted_entries(&dir) {
            // Shown only when the replay fails, naming the input.
            println!("replaying {}", file.display());
            target(&fs::read(&file).unwrap());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no fuzz inputs under {}",
        fuzz_dir().display()
    );
}

/// Found by the `record_decode` harness: a compressed v1 wrapper whose offset
/// is `i64::MIN` made `legacy.rs` compute `wrapper - last_inner` with an
/// overflowing subtraction (a panic in debug builds, silent wrap in release).
/// The fix wraps like Java's longs and applies Kafka's rule that a wrapper
/// offset of 0 leaves the inner offsets as they are.
#[test]
fn fuzz_regression_legacy_v1_wrapper_offset_overflow() {
    let data = input("record_decode", "crash-legacy-v1-wrapper-offset-overflow");
    fuzzing::record_decode(&data);
    let offsets = |bytes: &[u8]| -> Vec<i64> {
        LegacyEntry::new(Bytes::copy_from_slice(bytes))
            .and_then(|e| e.decode())
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect()
    };
    // Two inner messages with relative offsets 0 and 1 under a gzip wrapper.
    assert_eq!(offsets(&data), [i64::MAX, i64::MIN]);
    // The offset field is outside the legacy CRC, so it can be patched.
    let mut patched = data.clone();
    patched[..8].copy_from_slice(&41i64.to_be_bytes());
    assert_eq!(offsets(&patched), [40, 41]);
    patched[..8].copy_from_slice(&0i64.to_be_bytes());
    assert_eq!(
        offsets(&patched),
        [0, 1],
        "wrapper offset 0 keeps inner offsets"
    );
}

/// Found by the `record_decode` harness, in the harness: a legacy key length
/// of -42241 reads as a null key (as Java's `LegacyRecord` does), so
/// re-encoding writes the canonical -1 and the bytes differ. The round-trip
/// property now compares bytes only for canonical inputs.
#[test]
fn fuzz_regression_legacy_negative_length_is_null() {
    let data = input("record_decode", "crash-legacy-negative-length-is-null");
    fuzzing::record_decode(&data);
    let recs = LegacyEntry::new(Bytes::from(data))
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].key, None);
    assert_eq!(recs[0].value.as_deref(), Some(&b"w"[..]));
}

/// Found with the `record_decode` harness (a crafted input; libFuzzer's
/// malloc limit flags it): a 6.5 KB zstd batch declaring `i32::MAX` records
/// inflates to 200 MiB of zeros, and `parse_records` reserved
/// `min(count, bytes / 7)` records up front, a ~3 GiB allocation, before the
/// first record failed to parse. It now reserves at most 4096 records; the
/// fuzz build's malloc limit (2 GiB) is what catches a regression.
#[test]
fn fuzz_regression_zstd_bomb_does_not_preallocate_records() {
    let data = input("record_decode", "crash-zstd-bomb-record-prealloc");
    fuzzing::record_decode(&data);
    let batch = RecordBatch::new(Bytes::from(data)).unwrap();
    assert_eq!(batch.records_count(), i32::MAX);
    assert!(matches!(
        records::decode_unchecked(&batch),
        Err(BatchError::BadRecord { index: 0, .. })
    ));
}

/// Found by `response_decode` (run against patched kafka-protocol, see
/// `fuzz/run-patched.sh`): an InitProducerId v3 response whose unknown tagged
/// field has tag >= 2^31. kafka-protocol 0.18 decodes it into a negative key,
/// and its encoder counts that field but never writes it, so the response
/// does not round-trip (`compute_size` 24, encoded 30). An upstream encoder
/// bug that kmirror does not reach (it never encodes responses); the harness
/// skips the round trip for such values and decoding must still succeed.
#[test]
fn fuzz_regression_kafka_protocol_negative_tag_decodes() {
    let data = input("response_decode", "crash-kafka-protocol-negative-tag");
    fuzzing::response_decode(&data);
    assert_eq!(&data[..4], &[0, 22, 0, 3], "InitProducerId v3");
    let resp = decode_response::<InitProducerIdRequest>(3, Bytes::copy_from_slice(&data[4..]))
        .expect("decodes");
    assert!(resp.unknown_tagged_fields.keys().any(|&tag| tag < 0));
}

/// Kept from `response_decode` (every unpatched run ends in this within
/// seconds; 1,454 artifacts in a 10-minute fork-mode run, all gone with
/// `fuzz/patches/kafka-protocol-0.18.0-array-prealloc.patch`): kafka-protocol
/// 0.18 `Array::decode` calls `Vec::with_capacity(count)` with the count read
/// off the wire, so 47 bytes of Metadata v7 response reserve 13.9 GB and 28
/// bytes of OffsetFetch v2 reserve 136 GB, which aborts the process where the
/// allocation fails. Not fixable in our codec without a schema walk; the fix
/// belongs in kafka-protocol (upstream PRs #152, #161, #200); until a fixed
/// release, the workspace patches it (`vendor/kafka-protocol`, root Cargo.toml).
#[test]
fn fuzz_regression_kafka_protocol_array_prealloc() {
    let metadata = input(
        "response_decode",
        "upstream-kafka-protocol-array-prealloc-metadata",
    );
    assert_eq!(&metadata[..4], &[0, 3, 0, 7], "Metadata v7");
    assert!(decode_response::<MetadataRequest>(7, Bytes::copy_from_slice(&metadata[4..])).is_err());
    let offsets = input(
        "response_decode",
        "upstream-kafka-protocol-array-prealloc-offset-fetch",
    );
    assert_eq!(&offsets[..4], &[0, 9, 0, 2], "OffsetFetch v2");
    assert!(
        decode_response::<OffsetFetchRequest>(2, Bytes::copy_from_slice(&offsets[4..])).is_err()
    );
}

/// The hand-made `internal_records` seeds (`seed-*`, from `testdata/mm2` and the spec's
/// §2.4 examples) reach the decoder their knob byte names and decode, so the fuzzer starts
/// from valid records of every kind and the round-trip properties run on them.
#[test]
fn internal_records_seeds_decode_with_their_decoder() {
    use kmirror::group::metadata::{Assignment, MemberMetadata};
    use kmirror::internal_topics::{self as it, Checkpoint, Heartbeat, OffsetSync};
    let dir = fuzz_dir().join("internal_records");
    let mut seeds = 0;
    for file in sorted_entries(&dir) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("seed-") {
            continue;
        }
        let data = fs::read(&file).unwrap();
        kmirror::internal_topics::fuzzing::internal_records(&data);
        let split = usize::from(u16::from_be_bytes([data[1], data[2]]));
        let (key, value) = data[3..].split_at(split);
        let ok = match data[0] % 8 {
            0 => Heartbeat::decode(key, value).is_ok(),
            1 => Checkpoint::decode(key, value).is_ok(),
            2 | 6 | 7 => OffsetSync::decode(key, value).is_ok(),
            3 => {
                it::parse_source_offset_key(key).is_ok()
                    && it::parse_source_offset_value(value).is_ok()
            }
            4 => MemberMetadata::decode(&data[3..]).is_ok(),
            _ => Assignment::decode(&data[3..]).is_ok(),
        };
        assert!(ok, "{name} does not decode with its decoder");
        seeds += 1;
    }
    assert!(seeds >= 10, "only {seeds} seeds in {}", dir.display());
}
