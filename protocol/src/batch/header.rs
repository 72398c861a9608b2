//! The 61-byte magic-2 batch header: field offsets, attribute bits and the CRC.
//! Reads are at fixed offsets over the batch bytes; nothing is copied.
//!
//! # References
//! - `zero-copy-forwarding.md` §1.1 (offsets) and §1.2 (attribute bits).
//! - Kafka `DefaultRecordBatch.java` (the `*_OFFSET` constants, `computeChecksum`).

/// Byte offset of BaseOffset (int64).
pub const BASE_OFFSET: usize = 0;
/// Byte offset of Length (int32): batch size minus 12.
pub const LENGTH: usize = 8;
/// Byte offset of PartitionLeaderEpoch (int32), outside the CRC.
pub const PARTITION_LEADER_EPOCH: usize = 12;
/// Byte offset of Magic (int8); at byte 16 in every format.
pub const MAGIC: usize = 16;
/// Byte offset of the CRC-32C (uint32).
pub const CRC: usize = 17;
/// Byte offset of Attributes (int16); the CRC covers from here to the end.
pub const ATTRIBUTES: usize = 21;
/// Byte offset of LastOffsetDelta (int32).
pub const LAST_OFFSET_DELTA: usize = 23;
/// Byte offset of BaseTimestamp (int64).
pub const BASE_TIMESTAMP: usize = 27;
/// Byte offset of MaxTimestamp (int64).
pub const MAX_TIMESTAMP: usize = 35;
/// Byte offset of ProducerId (int64).
pub const PRODUCER_ID: usize = 43;
/// Byte offset of ProducerEpoch (int16).
pub const PRODUCER_EPOCH: usize = 51;
/// Byte offset of BaseSequence (int32).
pub const BASE_SEQUENCE: usize = 53;
/// Byte offset of RecordsCount (int32).
pub const RECORDS_COUNT: usize = 57;
/// Size of the v2 header; records start here.
pub const HEADER_LEN: usize = 61;
/// Bytes before the Length field's coverage starts (BaseOffset + Length).
pub const LOG_OVERHEAD: usize = 12;

/// Attribute mask of the compression codec (bits 0-2).
pub const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: LogAppendTime.
pub const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Attribute bit 4: transactional.
pub const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attribute bit 5: control batch.
pub const CONTROL_BIT: i16 = 0x20;
/// Attribute bit 6: delete horizon set (KIP-534).
pub const DELETE_HORIZON_BIT: i16 = 0x40;

/// Compression codec of a batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Uncompressed.
    None,
    /// gzip.
    Gzip,
    /// snappy with xerial framing.
    Snappy,
    /// lz4 frame format.
    Lz4,
    /// zstd frames.
    Zstd,
}

impl Compression {
    /// Codec from attribute bits 0-2; `None` for the reserved values 5-7.
    pub fn from_attributes(attributes: i16) -> Option<Self> {
        Some(match attributes & COMPRESSION_MASK {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Snappy,
            3 => Self::Lz4,
            4 => Self::Zstd,
            _ => return None,
        })
    }

    /// The attribute bits for this codec.
    pub fn id(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Kafka's name (`compression.type` value).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    /// Parses a `compression.type` value (`uncompressed` and `none` both mean none).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" | "uncompressed" => Self::None,
            "gzip" => Self::Gzip,
            "snappy" => Self::Snappy,
            "lz4" => Self::Lz4,
            "zstd" => Self::Zstd,
            _ => return None,
        })
    }
}

/// Timestamp type of a batch (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker on append.
    LogAppendTime,
}

pub(crate) fn read_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

pub(crate) fn read_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

pub(crate) fn read_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

/// CRC-32C over the covered range of a v2 batch given as header + body parts.
pub fn crc_of(header_from_attributes: &[u8], body: &[u8]) -> u32 {
    let c = crc32c::crc32c(header_from_attributes);
    crc32c::crc32c_append(c, body)
}
