//! THE ZERO-COPY CORE: a `RecordBatch` view over `Bytes` and the splitter that
//! cuts a fetch response's records blob into batches without copying.
//!
//! Layers: [`header`] (fixed offsets), [`rewrite`] (pass-through path), and the
//! decode path ([`records`], [`compression`], [`legacy`], [`builder`]) that only
//! runs when forwarding a batch as-is is impossible.
//!
//! # References
//! - `zero-copy-forwarding.md` §1 (layout) and §4.2 (the records blob).
//! - Kafka `ByteBufferLogInputStream.java` (truncated trailing batch).

pub mod builder;
pub mod compression;
pub mod header;
pub mod legacy;
pub mod records;
pub mod rewrite;

use bytes::Bytes;

pub use header::{Compression, TimestampType};

use crate::error::BatchError;
use header::*;

/// Smallest legacy (magic 0) entry: offset + size + crc + magic + attributes + key len + value len.
const LEGACY_MIN: usize = 12 + 4 + 1 + 1 + 4 + 4;

/// A view over one magic-2 record batch, header and records, backed by a
/// slice of the fetch response. Cloning it clones a reference count only.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// The whole batch, from BaseOffset to the end of its records.
    bytes: Bytes,
}

impl std::fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatch")
            .field("base_offset", &self.base_offset())
            .field("last_offset_delta", &self.last_offset_delta())
            .field("records_count", &self.records_count())
            .field("attributes", &self.attributes())
            .field("producer_id", &self.producer_id())
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl RecordBatch {
    /// Wraps the bytes of exactly one magic-2 batch, checking that the header
    /// fits and that Length matches the slice. Does not check the CRC.
    pub fn new(bytes: Bytes) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                at: 0,
                need: HEADER_LEN - bytes.len(),
            });
        }
        let magic = bytes[MAGIC] as i8;
        if magic != 2 {
            return Err(BatchError::NotV2 {
                base_offset: read_i64(&bytes, BASE_OFFSET),
                magic,
            });
        }
        let length = read_i32(&bytes, LENGTH);
        let total = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD));
        match total {
            Some(t) if t >= HEADER_LEN => {
                if t > bytes.len() {
                    return Err(BatchError::Truncated {
                        at: bytes.len(),
                        need: t - bytes.len(),
                    });
                }
                Ok(Self {
                    bytes: bytes.slice(..t),
                })
            }
            _ => Err(BatchError::LengthMismatch {
                at: 0,
                length,
                min: HEADER_LEN - LOG_OVERHEAD,
            }),
        }
    }

    /// The whole batch.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Consumes the view, returning the batch bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Size on the wire (Length + 12).
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Offset of the first record slot.
    pub fn base_offset(&self) -> i64 {
        read_i64(&self.bytes, BASE_OFFSET)
    }
    /// Batch size minus 12.
    pub fn length(&self) -> i32 {
        read_i32(&self.bytes, LENGTH)
    }
    /// Leader epoch stamped by the broker that appended the batch.
    pub fn partition_leader_epoch(&self) -> i32 {
        read_i32(&self.bytes, PARTITION_LEADER_EPOCH)
    }
    /// Always 2 for this view.
    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC] as i8
    }
    /// Stored CRC-32C.
    pub fn crc(&self) -> u32 {
        read_i32(&self.bytes, CRC) as u32
    }
    /// Raw attributes.
    pub fn attributes(&self) -> i16 {
        read_i16(&self.bytes, ATTRIBUTES)
    }
    /// Codec; `Err` for the reserved codec ids 5-7.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_attributes(self.attributes()).ok_or(BatchError::UnknownCodec {
            base_offset: self.base_offset(),
            codec: (self.attributes() & COMPRESSION_MASK) as u8,
        })
    }
    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    /// Attribute bit 4.
    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_BIT != 0
    }
    /// Attribute bit 5.
    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_BIT != 0
    }
    /// Attribute bit 6.
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes() & DELETE_HORIZON_BIT != 0
    }
    /// Last offset minus base offset.
    pub fn last_offset_delta(&self) -> i32 {
        read_i32(&self.bytes, LAST_OFFSET_DELTA)
    }
    /// Offset of the last record slot.
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .saturating_add(i64::from(self.last_offset_delta()))
    }
    /// First timestamp (or the delete horizon when bit 6 is set).
    pub fn base_timestamp(&self) -> i64 {
        read_i64(&self.bytes, BASE_TIMESTAMP)
    }
    /// Largest record timestamp, or the append time.
    pub fn max_timestamp(&self) -> i64 {
        read_i64(&self.bytes, MAX_TIMESTAMP)
    }
    /// -1 when not idempotent.
    pub fn producer_id(&self) -> i64 {
        read_i64(&self.bytes, PRODUCER_ID)
    }
    /// -1 when not idempotent.
    pub fn producer_epoch(&self) -> i16 {
        read_i16(&self.bytes, PRODUCER_EPOCH)
    }
    /// -1 when not idempotent.
    pub fn base_sequence(&self) -> i32 {
        read_i32(&self.bytes, BASE_SEQUENCE)
    }
    /// Number of records (stored uncompressed).
    pub fn records_count(&self) -> i32 {
        read_i32(&self.bytes, RECORDS_COUNT)
    }
    /// True when the record slots are contiguous (no compaction gaps).
    pub fn is_contiguous(&self) -> bool {
        i64::from(self.last_offset_delta()) + 1 == i64::from(self.records_count())
    }
    /// The records section (compressed or not), a slice of the same buffer.
    pub fn records_bytes(&self) -> Bytes {
        self.bytes.slice(HEADER_LEN..)
    }

    /// CRC-32C computed over bytes 21..end.
    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.bytes[ATTRIBUTES..])
    }

    /// Checks the stored CRC against the bytes.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let actual = self.compute_crc();
        if actual == self.crc() {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch {
                base_offset: self.base_offset(),
                expected: self.crc(),
                actual,
            })
        }
    }
}

/// One entry of a records blob: a v2 batch or a legacy (magic 0/1) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBatch {
    /// Magic 2.
    V2(RecordBatch),
    /// Magic 0 or 1: one message-set entry (possibly a compressed wrapper).
    Legacy(legacy::LegacyEntry),
}

impl RawBatch {
    /// Base offset (for a legacy wrapper, computed from its inner messages
    /// when decoded; here the entry's own offset field, which is the last offset).
    pub fn last_offset(&self) -> i64 {
        match self {
            Self::V2(b) => b.last_offset(),
            Self::Legacy(l) => l.offset(),
        }
    }

    /// Size in bytes of this entry on the wire.
    pub fn size(&self) -> usize {
        match self {
            Self::V2(b) => b.size(),
            Self::Legacy(l) => l.as_bytes().len(),
        }
    }
}

/// A trailing batch cut short by the fetch byte limit: fetch again from `base_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedTail {
    /// Byte offset in the blob where the partial batch starts.
    pub at: usize,
    /// The partial batch's BaseOffset, when at least 8 bytes of it arrived.
    pub base_offset: Option<i64>,
}

/// Iterator over the entries of a records blob, without copying.
///
/// Stops at a truncated trailing batch (not an error, as in Kafka's
/// `ByteBufferLogInputStream`); [`Batches::truncated_tail`] then reports it.
/// A malformed entry yields one `Err` and ends the iteration.
#[derive(Debug, Clone)]
pub struct Batches {
    /// The blob being split.
    blob: Bytes,
    /// Byte offset of the next entry.
    pos: usize,
    /// Set when iteration stopped on a partial batch.
    tail: Option<TruncatedTail>,
    /// Set after an error so iteration ends.
    done: bool,
}

/// Splits a fetch response's records blob into batches.
pub fn batches(blob: Bytes) -> Batches {
    Batches {
        blob,
        pos: 0,
        tail: None,
        done: false,
    }
}

impl Batches {
    /// The partial trailing batch, if iteration stopped on one.
    pub fn truncated_tail(&self) -> Option<TruncatedTail> {
        self.tail
    }

    /// Bytes consumed by whole entries so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn stop_truncated(&mut self) -> Option<Result<RawBatch, BatchError>> {
        let rest = &self.blob[self.pos..];
        let base_offset = (rest.len() >= 8).then(|| read_i64(rest, 0));
        self.tail = Some(TruncatedTail {
            at: self.pos,
            base_offset,
        });
        self.done = true;
        None
    }
}

impl Iterator for Batches {
    type Item = Result<RawBatch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.blob.len() {
            return None;
        }
        let at = self.pos;
        let rest = &self.blob[at..];
        if rest.len() < MAGIC + 1 {
            return self.stop_truncated();
        }
        let length = read_i32(rest, LENGTH);
        let magic = rest[MAGIC] as i8;
        let min = match magic {
            2 => HEADER_LEN,
            0 | 1 => LEGACY_MIN,
            _ => {
                self.done = true;
                return Some(Err(BatchError::BadMagic { at, magic }));
            }
        };
        let total = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD))
            .filter(|t| *t >= min);
        let Some(total) = total else {
            self.done = true;
            return Some(Err(BatchError::LengthMismatch {
                at,
                length,
                min: min - LOG_OVERHEAD,
            }));
        };
        if rest.len() < total {
            return self.stop_truncated();
        }
        let bytes = self.blob.slice(at..at + total);
        self.pos = at + total;
        let entry = if magic == 2 {
            RecordBatch::new(bytes).map(RawBatch::V2)
        } else {
            legacy::LegacyEntry::new(bytes).map(RawBatch::Legacy)
        };
        Some(entry.map_err(|e| {
            self.done = true;
            shift_error(e, at)
        }))
    }
}

/// Re-bases an error's byte offset from "within the batch" to "within the blob".
fn shift_error(e: BatchError, by: usize) -> BatchError {
    match e {
        BatchError::Truncated { at, need } => BatchError::Truncated { at: at + by, need },
        BatchError::BadMagic { at, magic } => BatchError::BadMagic { at: at + by, magic },
        BatchError::LengthMismatch { at, length, min } => BatchError::LengthMismatch {
            at: at + by,
            length,
            min,
        },
        other => other,
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::batch::builder::BatchBuilder;
    use crate::batch::rewrite::{HeaderRewrite, ProducerFields, rewrite};

    /// librdkafka 2.16 batches fetched from tansu 0.6.0 (testdata/README.md).
    const FIXTURES: [(&str, &[u8]); 5] = [
        (
            "none",
            include_bytes!("../../../testdata/batches/librdkafka-2.16_none_headers_idempotent.bin"),
        ),
        (
            "gzip",
            include_bytes!("../../../testdata/batches/librdkafka-2.16_gzip_headers_idempotent.bin"),
        ),
        (
            "snappy",
            include_bytes!(
                "../../../testdata/batches/librdkafka-2.16_snappy_headers_idempotent.bin"
            ),
        ),
        (
            "lz4",
            include_bytes!("../../../testdata/batches/librdkafka-2.16_lz4_headers_idempotent.bin"),
        ),
        (
            "zstd",
            include_bytes!("../../../testdata/batches/librdkafka-2.16_zstd_headers_idempotent.bin"),
        ),
    ];

    #[test]
    fn librdkafka_fixtures_parse_decode_and_rewrite() {
        for (codec, bytes) in FIXTURES {
            let all: Vec<RawBatch> = batches(Bytes::from_static(bytes))
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(all.len(), 1, "{codec}");
            let RawBatch::V2(b) = &all[0] else {
                panic!("v2 expected")
            };
            b.verify_crc().unwrap();
            assert_eq!(b.compression().unwrap().name(), codec);
            assert!(b.producer_id() >= 0 && b.base_sequence() == 0);
            assert!(b.is_contiguous());
            let recs = records::decode(b).unwrap();
            assert_eq!(recs.len() as i32, b.records_count());
            // librdkafka's first record of the sample data (tests/it/protocol.rs).
            assert_eq!(recs[0].key.as_deref(), Some(&b"key-0"[..]));
            assert_eq!(recs[0].timestamp, 1_700_000_000_000);
            assert_eq!(recs[0].headers.len(), 2);
            // Rewrite keeps the records slice and yields a valid batch.
            let rw = rewrite(b, &HeaderRewrite::new(ProducerFields::NONE)).unwrap();
            let again = RecordBatch::new(rw.to_bytes()).unwrap();
            again.verify_crc().unwrap();
            assert_eq!(records::decode(&again).unwrap(), recs);
            if codec == "none" {
                // Re-encoding the decoded records reproduces librdkafka's bytes.
                let mut builder = BatchBuilder::new(Compression::None);
                for r in &recs {
                    builder.push(r.clone());
                }
                let built = RecordBatch::new(builder.build().unwrap()).unwrap();
                assert_eq!(built.records_bytes(), b.records_bytes());
            }
        }
    }

    #[test]
    fn librdkafka_transactional_fixture_has_markers_in_order() {
        use crate::batch::records::{ControlType, control_type};
        let blob = include_bytes!(
            "../../../testdata/batches/librdkafka-2.16_none_transactional_with_markers.bin"
        );
        let all: Vec<RawBatch> = batches(Bytes::from_static(blob))
            .collect::<Result<_, _>>()
            .unwrap();
        let kinds: Vec<(bool, bool, Option<ControlType>)> = all
            .iter()
            .map(|b| {
                let RawBatch::V2(v) = b else {
                    panic!("v2 expected")
                };
                v.verify_crc().unwrap();
                let ct = v.is_control().then(|| control_type(v).unwrap());
                (v.is_transactional(), v.is_control(), ct)
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (true, false, None),
                (true, true, Some(ControlType::Commit)),
                (true, false, None),
                (true, true, Some(ControlType::Abort)),
                (true, false, None),
                (true, true, Some(ControlType::Commit)),
            ]
        );
    }

    #[test]
    fn split_keeps_truncated_tail_for_next_fetch() {
        let (_, one) = FIXTURES[0];
        let mut blob = one.to_vec();
        blob.extend_from_slice(&one[..100]);
        let mut it = batches(Bytes::from(blob));
        assert!(matches!(it.next(), Some(Ok(RawBatch::V2(_)))));
        assert!(it.next().is_none());
        let tail = it.truncated_tail().unwrap();
        assert_eq!(tail.at, one.len());
        assert_eq!(tail.base_offset, Some(0));
    }

    #[test]
    fn every_prefix_of_a_batch_is_a_tail_or_error_never_a_panic() {
        let (_, one) = FIXTURES[3];
        for n in 0..one.len() {
            let mut it = batches(Bytes::copy_from_slice(&one[..n]));
            assert!(it.next().is_none(), "prefix {n}");
            assert_eq!(it.truncated_tail().is_some(), n > 0);
        }
    }
}
