//! Header rewrite for the pass-through path: a new 61-byte header beside the
//! untouched records slice, with the CRC-32C recomputed by streaming both parts.
//!
//! # References
//! - `zero-copy-forwarding.md` §3.3 (producer fields), §3.4 (verify, then
//!   recompute), §6.3 (the table this module implements).

use bytes::{Bytes, BytesMut};

use super::RecordBatch;
use super::header::*;
use crate::error::BatchError;

/// Producer identity written into a forwarded batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerFields {
    /// Our own producer id from InitProducerId, or -1.
    pub producer_id: i64,
    /// Its epoch, or -1.
    pub producer_epoch: i16,
    /// Per-target-partition sequence of the batch's first record, or -1.
    pub base_sequence: i32,
}

impl ProducerFields {
    /// Non-idempotent mode: (-1, -1, -1).
    pub const NONE: Self = Self {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    };
}

/// What to write into a forwarded batch's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRewrite {
    /// Producer fields (the source's are never forwarded, §3.2).
    pub producer: ProducerFields,
    /// Keep bit 3 (LogAppendTime). Off by default: a LogAppendTime target
    /// rejects it, and on a CreateTime target clearing it restores the
    /// producers' original CreateTimes (§6.3).
    pub keep_log_append_time: bool,
}

impl HeaderRewrite {
    /// Rewrite that installs `producer` and clears every bit a client may not send.
    pub fn new(producer: ProducerFields) -> Self {
        Self {
            producer,
            keep_log_append_time: false,
        }
    }
}

/// A forwarded batch: a fresh header plus the source's records slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrittenBatch {
    /// New 61-byte header, CRC included.
    header: Bytes,
    /// The records section, shared with the fetch response.
    body: Bytes,
}

impl RewrittenBatch {
    /// Total size on the wire.
    pub fn len(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// Never true: a batch always has a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The two parts to write one after the other (vectored write).
    pub fn chunks(&self) -> [&Bytes; 2] {
        [&self.header, &self.body]
    }

    /// The new header.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The records section.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Number of records, read from the new header.
    pub fn records_count(&self) -> i32 {
        read_i32(&self.header, RECORDS_COUNT)
    }

    /// One contiguous copy (tests, and APIs that need a single buffer).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.body);
        out.freeze()
    }

    /// Replaces only the base sequence (e.g. after a producer reset), fixing the CRC.
    pub fn with_producer(&self, producer: ProducerFields) -> Self {
        let mut h = BytesMut::from(&self.header[..]);
        write_producer(&mut h, producer);
        let crc = crc_of(&h[ATTRIBUTES..], &self.body);
        h[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        Self {
            header: h.freeze(),
            body: self.body.clone(),
        }
    }
}

fn write_producer(h: &mut [u8], p: ProducerFields) {
    h[PRODUCER_ID..PRODUCER_ID + 8].copy_from_slice(&p.producer_id.to_be_bytes());
    h[PRODUCER_EPOCH..PRODUCER_EPOCH + 2].copy_from_slice(&p.producer_epoch.to_be_bytes());
    h[BASE_SEQUENCE..BASE_SEQUENCE + 4].copy_from_slice(&p.base_sequence.to_be_bytes());
}

/// Rewrites `batch`'s header per §6.3 after verifying its CRC.
///
/// BaseOffset becomes 0, PartitionLeaderEpoch -1, the transactional and
/// delete-horizon bits (and LogAppendTime unless kept) are cleared, the
/// producer fields are ours, and the CRC is recomputed over the new header
/// and the unchanged records. Records are neither copied nor decoded.
pub fn rewrite(batch: &RecordBatch, rw: &HeaderRewrite) -> Result<RewrittenBatch, BatchError> {
    batch.verify_crc()?;
    let src = batch.as_bytes();
    let mut h = BytesMut::from(&src[..HEADER_LEN]);
    h[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&0i64.to_be_bytes());
    h[PARTITION_LEADER_EPOCH..PARTITION_LEADER_EPOCH + 4].copy_from_slice(&(-1i32).to_be_bytes());
    let mut attributes = batch.attributes() & !(TRANSACTIONAL_BIT | DELETE_HORIZON_BIT);
    if !rw.keep_log_append_time {
        attributes &= !TIMESTAMP_TYPE_BIT;
    }
    h[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    write_producer(&mut h, rw.producer);
    let body = batch.records_bytes();
    let crc = if h[ATTRIBUTES..] == src[ATTRIBUTES..HEADER_LEN] {
        batch.crc()
    } else {
        crc_of(&h[ATTRIBUTES..], &body)
    };
    h[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(RewrittenBatch {
        header: h.freeze(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::builder::BatchBuilder;
    use crate::batch::records::Record;

    fn sample(attrs_extra: i16, pid: i64) -> RecordBatch {
        let mut b = BatchBuilder::new(Compression::None);
        b.base_offset(100)
            .producer(
                pid,
                if pid < 0 { -1 } else { 3 },
                if pid < 0 { -1 } else { 7 },
            )
            .extra_attributes(attrs_extra);
        b.push(Record::new(Some(b"k".as_ref()), Some(b"v".as_ref()), 1000));
        b.push(Record::new(None, Some(b"v2".as_ref()), 1001));
        RecordBatch::new(b.build().unwrap()).unwrap()
    }

    #[test]
    fn rewrite_matches_spec_table() {
        let src = sample(
            TRANSACTIONAL_BIT | DELETE_HORIZON_BIT | TIMESTAMP_TYPE_BIT,
            42,
        );
        let ours = ProducerFields {
            producer_id: 9,
            producer_epoch: 1,
            base_sequence: 5,
        };
        let out = rewrite(&src, &HeaderRewrite::new(ours)).unwrap();
        let view = RecordBatch::new(out.to_bytes()).unwrap();
        view.verify_crc().unwrap();
        assert_eq!(view.base_offset(), 0);
        assert_eq!(view.partition_leader_epoch(), -1);
        assert!(!view.is_transactional());
        assert!(!view.has_delete_horizon());
        assert_eq!(view.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(view.producer_id(), 9);
        assert_eq!(view.producer_epoch(), 1);
        assert_eq!(view.base_sequence(), 5);
        assert_eq!(view.records_count(), 2);
        assert_eq!(view.last_offset_delta(), 1);
        assert_eq!(view.records_bytes(), src.records_bytes());
        // The body is shared, not copied.
        assert_eq!(out.body().as_ptr(), src.as_bytes()[HEADER_LEN..].as_ptr());
    }

    #[test]
    fn rewrite_refuses_corrupt_source() {
        let src = sample(0, -1);
        let mut bad = BytesMut::from(&src.as_bytes()[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let bad = RecordBatch::new(bad.freeze()).unwrap();
        assert!(matches!(
            rewrite(&bad, &HeaderRewrite::new(ProducerFields::NONE)),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn rewrite_keeps_crc_when_nothing_covered_changed() {
        let src = sample(0, -1);
        let out = rewrite(&src, &HeaderRewrite::new(ProducerFields::NONE)).unwrap();
        assert_eq!(read_i32(out.header(), CRC) as u32, src.crc());
    }

    #[test]
    fn with_producer_changes_sequence_and_crc() {
        let src = sample(0, -1);
        let out = rewrite(&src, &HeaderRewrite::new(ProducerFields::NONE)).unwrap();
        let p = ProducerFields {
            producer_id: 1,
            producer_epoch: 0,
            base_sequence: 77,
        };
        let again = RecordBatch::new(out.with_producer(p).to_bytes()).unwrap();
        again.verify_crc().unwrap();
        assert_eq!(again.base_sequence(), 77);
    }
}
