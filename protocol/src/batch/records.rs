//! Record iteration for the decode path: zig-zag varints, keys, values and
//! headers. Reached only where a batch cannot be forwarded as it is.
//!
//! # References
//! - `zero-copy-forwarding.md` §1.3 (record layout), §1.4 (control records).
//! - Kafka `DefaultRecord.java`, `ByteUtils.readVarint`.

use bytes::Bytes;

use super::compression::decompress;
use super::{Compression, RecordBatch, TimestampType};
use crate::error::{BatchError, RecordFault};

/// One header of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Header key (UTF-8 by convention; not checked, as Java does not fail on it).
    pub key: Bytes,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

/// One decoded record with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (batch BaseOffset + OffsetDelta).
    pub offset: i64,
    /// Absolute timestamp (BaseTimestamp + TimestampDelta); for a
    /// LogAppendTime batch readers report the batch MaxTimestamp instead.
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<RecordHeader>,
}

impl Record {
    /// A record with no headers at offset 0.
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Self {
        Self {
            offset: 0,
            timestamp,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, key: &str, value: Option<&[u8]>) -> Self {
        self.headers.push(RecordHeader {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: value.map(Bytes::copy_from_slice),
        });
        self
    }
}

/// Reads zig-zag varints and length-prefixed fields from a `Bytes`, slicing
/// (not copying) keys and values.
struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    fn varlong(&mut self) -> Result<i64, RecordFault> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let b = *self.data.get(self.pos).ok_or(RecordFault::Truncated)?;
            self.pos += 1;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(RecordFault::BadVarint)
    }

    fn varint(&mut self) -> Result<i32, RecordFault> {
        let mut raw: u32 = 0;
        for i in 0..5 {
            let b = *self.data.get(self.pos).ok_or(RecordFault::Truncated)?;
            self.pos += 1;
            if i == 4 && b & 0xf0 != 0 {
                return Err(RecordFault::BadVarint);
            }
            raw |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32));
            }
        }
        Err(RecordFault::BadVarint)
    }

    fn take(&mut self, n: usize) -> Result<Bytes, RecordFault> {
        let end = self.pos.checked_add(n).ok_or(RecordFault::Truncated)?;
        if end > self.data.len() {
            return Err(RecordFault::Truncated);
        }
        let out = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    fn nullable(&mut self) -> Result<Option<Bytes>, RecordFault> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(RecordFault::BadLength(i64::from(n))),
            n => self.take(n as usize).map(Some),
        }
    }
}

/// Appends a zig-zag varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_varlong(out, i64::from(v));
}

/// Appends a zig-zag varlong.
pub(crate) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Most records reserved before parsing; the vector grows past it as records
/// actually parse.
const MAX_PREALLOCATED_RECORDS: usize = 4096;

/// Parses `count` records from an uncompressed records section.
///
/// This is the fuzz entry point for record decoding: no CRC, no codec.
pub fn parse_records(
    data: Bytes,
    count: i32,
    base_offset: i64,
    base_timestamp: i64,
) -> Result<Vec<Record>, BatchError> {
    let bad = |index, what| BatchError::BadRecord {
        base_offset,
        index,
        what,
    };
    let declared = count;
    let count = usize::try_from(count).map_err(|_| BatchError::CountMismatch {
        base_offset,
        declared,
        actual: 0,
    })?;
    // Each record takes at least 7 bytes; do not trust a huge count. The
    // bytes do not bound it either: a ~6 KiB zstd batch inflates to 200 MiB
    // of zeros, which would reserve ~3 GiB of `Record`s before the first one
    // fails to parse (found with the record_decode fuzz harness). Reserve a
    // little; records that really parse grow it.
    let mut out = Vec::with_capacity(count.min(data.len() / 7 + 1).min(MAX_PREALLOCATED_RECORDS));
    let mut r = Reader { data, pos: 0 };
    for index in 0..count {
        let rec = (|| {
            let len = r.varint()?;
            if len < 0 {
                return Err(RecordFault::BadLength(i64::from(len)));
            }
            let start = r.pos;
            let _attributes = r.take(1)?;
            let ts_delta = r.varlong()?;
            let off_delta = r.varint()?;
            let key = r.nullable()?;
            let value = r.nullable()?;
            let n_headers = r.varint()?;
            if n_headers < 0 {
                return Err(RecordFault::BadLength(i64::from(n_headers)));
            }
            let mut headers = Vec::with_capacity((n_headers as usize).min(64));
            for _ in 0..n_headers {
                let klen = r.varint()?;
                if klen < 0 {
                    return Err(RecordFault::BadLength(i64::from(klen)));
                }
                let key = r.take(klen as usize)?;
                let value = r.nullable()?;
                headers.push(RecordHeader { key, value });
            }
            let used = r.pos - start;
            if used != len as usize {
                return Err(RecordFault::LengthMismatch {
                    declared: i64::from(len),
                    used,
                });
            }
            Ok(Record {
                offset: base_offset.wrapping_add(i64::from(off_delta)),
                timestamp: base_timestamp.wrapping_add(ts_delta),
                key,
                value,
                headers,
            })
        })()
        .map_err(|what| bad(index, what))?;
        out.push(rec);
    }
    if r.pos != r.data.len() {
        return Err(BatchError::CountMismatch {
            base_offset,
            declared,
            actual: count + 1,
        });
    }
    Ok(out)
}

/// Decodes every record of a batch, decompressing if needed. Checks the CRC.
///
/// For a LogAppendTime batch each record's `timestamp` is the batch
/// MaxTimestamp, as a Java consumer reports it.
pub fn decode(batch: &RecordBatch) -> Result<Vec<Record>, BatchError> {
    batch.verify_crc()?;
    decode_unchecked(batch)
}

/// [`decode`] without the CRC check (fuzzing, and callers that checked it).
pub fn decode_unchecked(batch: &RecordBatch) -> Result<Vec<Record>, BatchError> {
    let codec = batch.compression()?;
    let body = batch.records_bytes();
    let data = if codec == Compression::None {
        body
    } else {
        decompress(codec, &body).map_err(|e| BatchError::Compression {
            base_offset: batch.base_offset(),
            codec: codec.name(),
            message: e.0,
        })?
    };
    let mut records = parse_records(
        data,
        batch.records_count(),
        batch.base_offset(),
        batch.base_timestamp(),
    )?;
    if batch.timestamp_type() == TimestampType::LogAppendTime {
        let t = batch.max_timestamp();
        records.iter_mut().for_each(|r| r.timestamp = t);
    }
    Ok(records)
}

/// Type of a control record (key: int16 version, int16 type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// Transaction aborted.
    Abort,
    /// Transaction committed.
    Commit,
    /// Any other (KRaft-internal) type.
    Other(i16),
}

/// Reads the control type from a control batch's first record key.
pub fn control_type(batch: &RecordBatch) -> Result<ControlType, BatchError> {
    let records = decode_unchecked(batch)?;
    let key = records
        .first()
        .and_then(|r| r.key.as_ref())
        .filter(|k| k.len() >= 4)
        .ok_or(BatchError::BadRecord {
            base_offset: batch.base_offset(),
            index: 0,
            what: RecordFault::Truncated,
        })?;
    Ok(match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        t => ControlType::Other(t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::builder::BatchBuilder;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            let mut r = Reader {
                data: Bytes::from(buf),
                pos: 0,
            };
            assert_eq!(r.varlong().unwrap(), v);
        }
        let mut buf = Vec::new();
        put_varint(&mut buf, i32::MIN);
        let mut r = Reader {
            data: Bytes::from(buf),
            pos: 0,
        };
        assert_eq!(r.varint().unwrap(), i32::MIN);
    }

    #[test]
    fn built_records_decode_identically_for_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut b = BatchBuilder::new(c);
            b.base_offset(10);
            let recs = vec![
                Record::new(Some(b"k1"), Some(b"v1"), 1_700_000_000_000)
                    .with_header("h", Some(b"x")),
                Record::new(None, None, 1_699_999_999_000).with_header("n", None),
                Record::new(Some(b""), Some(&[7u8; 3000]), 1_700_000_000_500),
            ];
            for r in &recs {
                b.push(r.clone());
            }
            let batch = RecordBatch::new(b.build().unwrap()).unwrap();
            assert_eq!(batch.compression().unwrap(), c);
            let out = decode(&batch).unwrap();
            assert_eq!(out.len(), 3);
            for (i, (a, e)) in out.iter().zip(&recs).enumerate() {
                assert_eq!(a.offset, 10 + i as i64);
                assert_eq!(a.timestamp, e.timestamp);
                assert_eq!(a.key, e.key);
                assert_eq!(a.value, e.value);
                assert_eq!(a.headers, e.headers);
            }
        }
    }

    #[test]
    fn truncated_record_is_an_error() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(Record::new(Some(b"key"), Some(b"value"), 5));
        let batch = RecordBatch::new(b.build().unwrap()).unwrap();
        let body = batch.records_bytes();
        let cut = body.slice(..body.len() - 2);
        assert!(matches!(
            parse_records(cut, 1, 0, 0),
            Err(BatchError::BadRecord { index: 0, .. })
        ));
    }
}
