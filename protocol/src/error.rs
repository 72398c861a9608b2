//! Error types of the sans-io layers: framing, message codec and record batches.
//! Each variant carries where in the input the problem was found.

use std::fmt;

pub use kafka_protocol::ResponseError;

/// A length-prefixed frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The 4-byte size prefix was negative.
    #[error("negative frame size {size}")]
    NegativeSize {
        /// The size read from the wire.
        size: i32,
    },
    /// The frame is larger than the configured maximum.
    #[error("frame of {actual} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Configured maximum frame size.
        limit: usize,
        /// Size announced by the peer.
        actual: usize,
    },
    /// The frame cannot hold a response header (correlation id).
    #[error("frame of {len} bytes is too short for a response header")]
    TooShort {
        /// Frame length.
        len: usize,
    },
}

/// A request could not be encoded or a response could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// kafka-protocol failed to decode the body.
    #[error("cannot decode {api:?} v{version} response")]
    Decode {
        /// API of the message.
        api: kafka_protocol::messages::ApiKey,
        /// Version used to decode.
        version: i16,
        /// What kafka-protocol reported.
        #[source]
        source: anyhow::Error,
    },
    /// kafka-protocol failed to encode the request.
    #[error("cannot encode {api:?} v{version} request")]
    Encode {
        /// API of the message.
        api: kafka_protocol::messages::ApiKey,
        /// Version used to encode.
        version: i16,
        /// What kafka-protocol reported.
        #[source]
        source: anyhow::Error,
    },
    /// The message decoded but left bytes unread in the frame.
    #[error("{api:?} v{version} response left {} of {len} bytes unread", len - read)]
    TrailingBytes {
        /// API of the message.
        api: kafka_protocol::messages::ApiKey,
        /// Version used to decode.
        version: i16,
        /// Bytes consumed by the decoder.
        read: usize,
        /// Frame length.
        len: usize,
    },
    /// The frame is too short to hold a response header.
    #[error("response frame of {len} bytes is too short for its header")]
    ShortHeader {
        /// Frame length.
        len: usize,
    },
    /// The API key on the wire is not one we know.
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
}

/// A record batch (or legacy message set entry) is malformed.
///
/// `at` is always the byte offset within the records blob handed to the
/// splitter (for a single batch, within that batch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Fewer bytes than a field needs.
    #[error("truncated at byte {at}: need {need} more bytes")]
    Truncated {
        /// Offset of the field that did not fit.
        at: usize,
        /// Bytes missing.
        need: usize,
    },
    /// Magic byte is not 0, 1 or 2.
    #[error("unsupported magic {magic} at byte {at}")]
    BadMagic {
        /// Offset of the batch.
        at: usize,
        /// The magic byte read.
        magic: i8,
    },
    /// Stored CRC does not match the bytes.
    #[error(
        "crc mismatch in batch at base offset {base_offset}: stored {expected:#010x}, computed {actual:#010x}"
    )]
    CrcMismatch {
        /// Base offset of the batch.
        base_offset: i64,
        /// CRC stored in the header.
        expected: u32,
        /// CRC computed over the bytes.
        actual: u32,
    },
    /// The Length field is impossible (too small for a header).
    #[error("batch at byte {at} declares length {length}, below the {min}-byte minimum")]
    LengthMismatch {
        /// Offset of the batch.
        at: usize,
        /// Declared length.
        length: i32,
        /// Smallest valid length for that magic.
        min: usize,
    },
    /// A record inside the batch is malformed.
    #[error("record {index} of batch at base offset {base_offset}: {what}")]
    BadRecord {
        /// Base offset of the batch.
        base_offset: i64,
        /// 0-based record index.
        index: usize,
        /// What was wrong.
        what: RecordFault,
    },
    /// The compressed payload could not be decompressed (or compressed).
    #[error("{codec} payload of batch at base offset {base_offset} is corrupt: {message}")]
    Compression {
        /// Base offset of the batch.
        base_offset: i64,
        /// Codec name.
        codec: &'static str,
        /// What the codec reported.
        message: String,
    },
    /// The compression codec id in the attributes is not 0..=4.
    #[error("unknown compression codec {codec} in batch at base offset {base_offset}")]
    UnknownCodec {
        /// Base offset of the batch.
        base_offset: i64,
        /// Codec bits.
        codec: u8,
    },
    /// The records decoded do not match RecordsCount.
    #[error("batch at base offset {base_offset} declares {declared} records but holds {actual}")]
    CountMismatch {
        /// Base offset of the batch.
        base_offset: i64,
        /// RecordsCount from the header.
        declared: i32,
        /// Records found.
        actual: usize,
    },
    /// The operation needs a magic-2 batch.
    #[error("batch at base offset {base_offset} has magic {magic}; this needs magic 2")]
    NotV2 {
        /// Base offset of the batch.
        base_offset: i64,
        /// The magic found.
        magic: i8,
    },
}

/// What was wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFault {
    /// Ran out of bytes.
    Truncated,
    /// A varint is longer than allowed.
    BadVarint,
    /// A length is negative where that is not allowed, or too large.
    BadLength(i64),
    /// The record's Length field disagrees with its contents.
    LengthMismatch {
        /// Declared body length.
        declared: i64,
        /// Bytes actually used.
        used: usize,
    },
    /// Header key is not UTF-8.
    BadHeaderKey,
}

impl fmt::Display for RecordFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated"),
            Self::BadVarint => f.write_str("malformed varint"),
            Self::BadLength(n) => write!(f, "invalid length {n}"),
            Self::LengthMismatch { declared, used } => {
                write!(f, "declared length {declared} but used {used} bytes")
            }
            Self::BadHeaderKey => f.write_str("header key is not utf-8"),
        }
    }
}

/// Kafka's SCREAMING_SNAKE name for an error code (`NOT_LEADER_OR_FOLLOWER`).
///
/// kafka-protocol's `Display` prints CamelCase; operators know the Java names.
pub fn error_code_name(err: ResponseError) -> String {
    let camel = format!("{err:?}");
    if let ResponseError::Unknown(code) = err {
        return format!("UNKNOWN_ERROR_CODE_{code}");
    }
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_name_is_java_style() {
        assert_eq!(
            error_code_name(ResponseError::NotLeaderOrFollower),
            "NOT_LEADER_OR_FOLLOWER"
        );
        assert_eq!(
            error_code_name(ResponseError::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            error_code_name(ResponseError::Unknown(-99)),
            "UNKNOWN_ERROR_CODE_-99"
        );
    }
}
