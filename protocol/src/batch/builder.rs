//! Writes magic-2 batches: for MM2's internal topics, up-converted legacy
//! messages, renumbered compacted batches and re-compressed batches.
//! Offset deltas are always 0..n-1, the only layout a broker accepts.
//!
//! # References
//! - `zero-copy-forwarding.md` §1.1-§1.3, §2.3 (what a broker checks).
//! - Kafka `MemoryRecordsBuilder.java`, `DefaultRecord.writeTo`.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::compress;
use super::header::*;
use super::records::{Record, put_varint, put_varlong};
use crate::error::BatchError;

/// Builds one v2 batch.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    /// Codec of the records section.
    compression: Compression,
    /// BaseOffset written (0 for a produce request).
    base_offset: i64,
    /// PartitionLeaderEpoch written (-1 for a produce request).
    partition_leader_epoch: i32,
    /// Producer id, epoch and base sequence.
    producer: (i64, i16, i32),
    /// Extra attribute bits (tests; transactional for our own transactions).
    extra_attributes: i16,
    /// Records in order; their `offset` fields are ignored.
    records: Vec<Record>,
}

impl BatchBuilder {
    /// An empty, non-idempotent batch.
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer: (-1, -1, -1),
            extra_attributes: 0,
            records: Vec::new(),
        }
    }

    /// Sets BaseOffset.
    pub fn base_offset(&mut self, v: i64) -> &mut Self {
        self.base_offset = v;
        self
    }

    /// Sets producer id, epoch and base sequence.
    pub fn producer(&mut self, id: i64, epoch: i16, base_sequence: i32) -> &mut Self {
        self.producer = (id, epoch, base_sequence);
        self
    }

    /// ORs extra bits into the attributes.
    pub fn extra_attributes(&mut self, bits: i16) -> &mut Self {
        self.extra_attributes = bits;
        self
    }

    /// Appends a record.
    pub fn push(&mut self, r: Record) -> &mut Self {
        self.records.push(r);
        self
    }

    /// Number of records pushed.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes the batch.
    pub fn build(&self) -> Result<Bytes, BatchError> {
        let base_ts = self.records.first().map_or(-1, |r| r.timestamp);
        let max_ts = self.records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
        let mut raw = Vec::with_capacity(64 * self.records.len());
        let mut body = Vec::with_capacity(64);
        for (i, r) in self.records.iter().enumerate() {
            body.clear();
            body.push(0); // attributes
            put_varlong(&mut body, r.timestamp.wrapping_sub(base_ts));
            put_varint(&mut body, i as i32);
            put_nullable(&mut body, r.key.as_deref());
            put_nullable(&mut body, r.value.as_deref());
            put_varint(&mut body, r.headers.len() as i32);
            for h in &r.headers {
                put_varint(&mut body, h.key.len() as i32);
                body.extend_from_slice(&h.key);
                put_nullable(&mut body, h.value.as_deref());
            }
            put_varint(&mut raw, body.len() as i32);
            raw.extend_from_slice(&body);
        }
        let payload = compress(self.compression, &raw).map_err(|e| BatchError::Compression {
            base_offset: self.base_offset,
            codec: self.compression.name(),
            message: e.0,
        })?;
        let n = self.records.len() as i32;
        let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
        out.put_i64(self.base_offset);
        out.put_i32((HEADER_LEN - LOG_OVERHEAD + payload.len()) as i32);
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(2);
        out.put_u32(0); // CRC, filled below
        out.put_i16(self.compression.id() | self.extra_attributes);
        out.put_i32((n - 1).max(0));
        out.put_i64(base_ts);
        out.put_i64(max_ts);
        out.put_i64(self.producer.0);
        out.put_i16(self.producer.1);
        out.put_i32(self.producer.2);
        out.put_i32(n);
        out.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&out[ATTRIBUTES..]);
        out[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(out.freeze())
    }
}

fn put_nullable(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::RecordBatch;

    #[test]
    fn builder_then_view_agree() {
        let mut b = BatchBuilder::new(Compression::Lz4);
        b.producer(5, 1, 10);
        b.push(Record::new(Some(b"a"), Some(b"1"), 100));
        b.push(Record::new(Some(b"b"), Some(b"2"), 90));
        let v = RecordBatch::new(b.build().unwrap()).unwrap();
        v.verify_crc().unwrap();
        assert_eq!(v.base_offset(), 0);
        assert_eq!(v.records_count(), 2);
        assert_eq!(v.last_offset_delta(), 1);
        assert_eq!(v.base_timestamp(), 100);
        assert_eq!(v.max_timestamp(), 100);
        assert_eq!(v.producer_id(), 5);
        assert_eq!(v.base_sequence(), 10);
        assert_eq!(v.compression().unwrap(), Compression::Lz4);
        assert!(v.is_contiguous());
    }
}
