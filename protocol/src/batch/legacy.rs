//! Magic v0/v1 message sets (pre-0.11 segments a broker may still serve):
//! read them, including compressed wrappers, so they can be up-converted to v2.
//!
//! # References
//! - `zero-copy-forwarding.md` §2.7 (v0/v1 must be up-converted).
//! - Kafka `LegacyRecord.java`, `AbstractLegacyRecordBatch.java` (relative
//!   inner offsets of v1 wrappers).

use bytes::Bytes;

use super::Compression;
use super::compression::decompress;
use super::header::{read_i32, read_i64};
use super::records::Record;
use crate::error::BatchError;

/// Offset of the message CRC (after offset and size).
const CRC_AT: usize = 12;
/// Offset of the magic byte.
const MAGIC_AT: usize = 16;
/// Offset of the attributes byte.
const ATTR_AT: usize = 17;
/// Deepest wrapper nesting accepted (Kafka allows exactly one level).
const MAX_DEPTH: usize = 1;

/// One legacy message-set entry: `offset, size, crc, magic, attributes,
/// [timestamp], key, value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyEntry {
    /// The whole entry including offset and size.
    bytes: Bytes,
}

impl LegacyEntry {
    /// Wraps one entry (the splitter has checked its size and magic).
    pub fn new(bytes: Bytes) -> Result<Self, BatchError> {
        if bytes.len() < ATTR_AT + 1 {
            return Err(BatchError::Truncated {
                at: 0,
                need: ATTR_AT + 1 - bytes.len(),
            });
        }
        Ok(Self { bytes })
    }

    /// The entry bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The offset field: for a compressed wrapper, the offset of its last inner message.
    pub fn offset(&self) -> i64 {
        read_i64(&self.bytes, 0)
    }

    /// 0 or 1.
    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC_AT] as i8
    }

    /// Checks the CRC-32 (IEEE) over magic..end.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let expected = read_i32(&self.bytes, CRC_AT) as u32;
        let actual = crc32fast::hash(&self.bytes[MAGIC_AT..]);
        if expected == actual {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch {
                base_offset: self.offset(),
                expected,
                actual,
            })
        }
    }

    /// Decodes the entry into records with absolute offsets and timestamps.
    pub fn decode(&self) -> Result<Vec<Record>, BatchError> {
        self.verify_crc()?;
        let mut out = Vec::new();
        decode_entry(&self.bytes, 0, &mut out)?;
        Ok(out)
    }
}

struct Parsed {
    offset: i64,
    magic: i8,
    attributes: u8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn parse(b: &Bytes) -> Result<Parsed, BatchError> {
    let offset = read_i64(b, 0);
    let magic = b[MAGIC_AT] as i8;
    let attributes = b[ATTR_AT];
    let mut pos = ATTR_AT + 1;
    let trunc = |pos: usize, need: usize| BatchError::Truncated { at: pos, need };
    let timestamp = if magic == 1 {
        if b.len() < pos + 8 {
            return Err(trunc(pos, pos + 8 - b.len()));
        }
        pos += 8;
        read_i64(b, pos - 8)
    } else {
        -1
    };
    let field = |pos: &mut usize| -> Result<Option<Bytes>, BatchError> {
        if b.len() < *pos + 4 {
            return Err(trunc(*pos, *pos + 4 - b.len()));
        }
        let len = read_i32(b, *pos);
        *pos += 4;
        if len < 0 {
            return Ok(None);
        }
        let end = *pos + len as usize;
        if end > b.len() {
            return Err(trunc(*pos, end - b.len()));
        }
        let v = b.slice(*pos..end);
        *pos = end;
        Ok(Some(v))
    };
    let key = field(&mut pos)?;
    let value = field(&mut pos)?;
    Ok(Parsed {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn decode_entry(b: &Bytes, depth: usize, out: &mut Vec<Record>) -> Result<(), BatchError> {
    let m = parse(b)?;
    let codec = Compression::from_attributes(i16::from(m.attributes & 0x07)).ok_or(
        BatchError::UnknownCodec {
            base_offset: m.offset,
            codec: m.attributes & 0x07,
        },
    )?;
    if codec == Compression::None {
        out.push(Record {
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key,
            value: m.value,
            headers: Vec::new(),
        });
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(BatchError::BadMagic {
            at: 0,
            magic: m.magic,
        });
    }
    if codec == Compression::Lz4 && m.magic == 0 {
        // Magic 0 lz4 used Kafka's broken frame-header checksum (KAFKA-3160).
        return Err(BatchError::Compression {
            base_offset: m.offset,
            codec: "lz4",
            message: "magic 0 lz4 (broken header checksum) is not supported".into(),
        });
    }
    let inner = decompress(codec, m.value.as_deref().unwrap_or_default()).map_err(|e| {
        BatchError::Compression {
            base_offset: m.offset,
            codec: codec.name(),
            message: e.0,
        }
    })?;
    let first = out.len();
    let mut pos = 0;
    while pos < inner.len() {
        if inner.len() - pos < 12 {
            return Err(BatchError::Truncated {
                at: pos,
                need: 12 - (inner.len() - pos),
            });
        }
        let size = read_i32(&inner, pos + 8);
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| (pos + 12).checked_add(s))
            .filter(|e| *e <= inner.len() && *e >= pos + ATTR_AT + 1 + 8)
            .ok_or(BatchError::LengthMismatch {
                at: pos,
                length: size,
                min: ATTR_AT + 1 + 8 - 12,
            })?;
        decode_entry(&inner.slice(pos..end), depth + 1, out)?;
        pos = end;
    }
    if m.magic == 1 {
        // v1 inner offsets are relative; the wrapper carries the last absolute
        // offset. A wrapper offset of 0 (some librdkafka produce data) means
        // the inner offsets are used as they are. Offsets come from the wire,
        // so the arithmetic wraps like Java's longs instead of overflowing
        // (Kafka `AbstractLegacyRecordBatch.DeepRecordsIterator`).
        let last_inner = out[first..].last().map_or(0, |r| r.offset);
        let base = if m.offset == 0 {
            0
        } else {
            m.offset.wrapping_sub(last_inner)
        };
        let log_append = m.attributes & 0x08 != 0;
        for r in &mut out[first..] {
            r.offset = base.wrapping_add(r.offset);
            if log_append {
                r.timestamp = m.timestamp;
            }
        }
    }
    Ok(())
}

/// Builds a legacy entry (tests and fixtures): uncompressed, magic 0 or 1.
pub fn encode_message(
    offset: i64,
    magic: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Bytes {
    let mut m = vec![magic as u8, 0];
    if magic == 1 {
        m.extend_from_slice(&timestamp.to_be_bytes());
    }
    for f in [key, value] {
        match f {
            None => m.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                m.extend_from_slice(&(v.len() as i32).to_be_bytes());
                m.extend_from_slice(v);
            }
        }
    }
    let crc = crc32fast::hash(&m);
    let mut out = Vec::with_capacity(m.len() + 16);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&((m.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&m);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{RawBatch, batches};

    #[test]
    fn legacy_v0_and_v1_messages_decode() {
        let mut blob = encode_message(5, 0, -1, Some(b"k"), Some(b"v")).to_vec();
        blob.extend_from_slice(&encode_message(6, 1, 1234, None, Some(b"w")));
        let all: Vec<_> = batches(Bytes::from(blob))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(all.len(), 2);
        let RawBatch::Legacy(e) = &all[1] else {
            panic!("expected legacy")
        };
        let recs = e.decode().unwrap();
        assert_eq!(recs[0].offset, 6);
        assert_eq!(recs[0].timestamp, 1234);
        assert_eq!(recs[0].key, None);
    }
}
