//! MM2's internal-topic record formats: heartbeat, checkpoint and offset-sync keys and values, and
//! the MirrorSourceConnector entries of the Connect offsets topic. Pure encode/decode, no I/O.
//!
//! # Wire format
//!
//! Heartbeats, checkpoints and offset syncs use Kafka's protocol type system, not Connect JSON:
//! fields in schema order with no tags, counts or padding; `INT16`/`INT32`/`INT64` big-endian;
//! `STRING` = `INT16` length (0..=32767) + UTF-8 bytes, never null. Heartbeat and checkpoint
//! values start with an `INT16` version (always 0); offset-sync values have no version.
//!
//! ```text
//! heartbeat   key   sourceClusterAlias:STRING targetClusterAlias:STRING
//!             value version:INT16 timestamp:INT64
//! checkpoint  key   group:STRING topic:STRING partition:INT32
//!             value version:INT16 upstreamOffset:INT64 offset:INT64 metadata:STRING
//! offset sync key   topic:STRING partition:INT32
//!             value upstreamOffset:INT64 offset:INT64
//! ```
//!
//! Decoding behaves like MM2's readers: the version is read and ignored (MM2 checks it with a
//! Java `assert`, which is off at runtime, so every version is read with the v0 layout), and bytes
//! after the last field are ignored. A short buffer or a negative string length is an
//! [`InternalTopicError`] naming the field and its byte offset; nothing here panics on input.
//! One deliberate difference: MM2 decodes malformed UTF-8 into U+FFFD, we return
//! [`InternalTopicError::InvalidUtf8`] (Java writers always produce valid UTF-8, and a
//! replacement char in a group or topic name would point at a group or topic that does not exist).
//!
//! All three records go to partition [`INTERNAL_TOPIC_PARTITION`] of their topic.
//!
//! # References
//!
//! * `/work/shared/spec/mm2-reference.md` §1.2 (compaction keys), §2.1–§2.3 (layouts and the
//!   example bytes in `testdata/mm2/`), §2.4 (Connect offsets topic).
//! * apache/kafka `connect/mirror-client/.../Heartbeat.java`, `Checkpoint.java`,
//!   `connect/mirror/.../OffsetSync.java`, `MirrorUtils.wrapPartition`/`wrapOffset`;
//!   `clients/.../protocol/types/Type.java` (`STRING` read/write checks) and `Schema.read`
//!   (trunk `1eb7644349cb`, 2024-10-25).
//! * Connect `JsonConverter` (`schemas.enable=false`) and Jackson's default string escaping for
//!   the offsets-topic JSON.

use std::fmt;

/// Result alias for this module.
pub type Result<T, E = InternalTopicError> = std::result::Result<T, E>;

/// Partition MM2 writes heartbeats, checkpoints and offset syncs to, and the only one its readers
/// read.
pub const INTERNAL_TOPIC_PARTITION: i32 = 0;

/// Longest `STRING` the Kafka protocol type can carry (`Short.MAX_VALUE` bytes of UTF-8).
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Connector name (the class's simple name in dedicated mode) in MirrorSourceConnector offset
/// keys.
pub const MIRROR_SOURCE_CONNECTOR: &str = "MirrorSourceConnector";

/// Which half of a record a field belongs to; part of every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPart {
    /// The record key.
    Key,
    /// The record value.
    Value,
}

impl fmt::Display for RecordPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::Value => "value",
        })
    }
}

/// A record of an MM2 internal topic could not be encoded or decoded.
///
/// `record` is `heartbeat`, `checkpoint`, `offset sync` or `MirrorSourceConnector offset`;
/// `field` is MM2's schema field name (`sourceClusterAlias`, `upstreamOffset`, `offset`, ...);
/// `at` is the byte offset of the field within the key or value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InternalTopicError {
    /// The buffer ends inside a field.
    #[error(
        "{record} {part}: field `{field}` at byte {at} needs {need} bytes, {available} available"
    )]
    Truncated {
        /// Record type.
        record: &'static str,
        /// Key or value.
        part: RecordPart,
        /// MM2 schema field name.
        field: &'static str,
        /// Byte offset where the field starts.
        at: usize,
        /// Bytes the field needs from `at` (for a string: prefix plus body).
        need: usize,
        /// Bytes left from `at`.
        available: usize,
    },
    /// A `STRING` length prefix is negative (MM2 rejects it the same way; `STRING` is not
    /// nullable).
    #[error("{record} {part}: field `{field}` at byte {at} has negative string length {len}")]
    NegativeStringLength {
        /// Record type.
        record: &'static str,
        /// Key or value.
        part: RecordPart,
        /// MM2 schema field name.
        field: &'static str,
        /// Byte offset of the length prefix.
        at: usize,
        /// The length read.
        len: i16,
    },
    /// A `STRING` body is not UTF-8.
    #[error("{record} {part}: field `{field}` at byte {at} is not valid UTF-8")]
    InvalidUtf8 {
        /// Record type.
        record: &'static str,
        /// Key or value.
        part: RecordPart,
        /// MM2 schema field name.
        field: &'static str,
        /// Byte offset of the length prefix.
        at: usize,
        /// Where the UTF-8 check failed, relative to the string body.
        #[source]
        source: std::str::Utf8Error,
    },
    /// A string to encode is longer than a `STRING` can hold (MM2's writer rejects it too).
    #[error("{record} {part}: field `{field}` is {len} bytes, more than {MAX_STRING_LEN}")]
    StringTooLong {
        /// Record type.
        record: &'static str,
        /// Key or value.
        part: RecordPart,
        /// MM2 schema field name.
        field: &'static str,
        /// UTF-8 length of the string.
        len: usize,
    },
    /// A Connect offsets-topic key or value is not the JSON shape MirrorSourceConnector writes.
    #[error("{record} {part}: {reason} at byte {at}")]
    InvalidJson {
        /// Record type (`MirrorSourceConnector offset`).
        record: &'static str,
        /// Key or value.
        part: RecordPart,
        /// What was wrong.
        reason: &'static str,
        /// Byte offset in the JSON text where it was noticed.
        at: usize,
    },
}

const HEARTBEAT: &str = "heartbeat";
const CHECKPOINT: &str = "checkpoint";
const OFFSET_SYNC: &str = "offset sync";
const SOURCE_OFFSET: &str = "MirrorSourceConnector offset";

/// Bounds-checked big-endian reader over one key or value, carrying the context for errors.
struct Reader<'a> {
    /// The whole key or value.
    buf: &'a [u8],
    /// Next byte to read.
    pos: usize,
    /// Record type, for errors.
    record: &'static str,
    /// Key or value, for errors.
    part: RecordPart,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], record: &'static str, part: RecordPart) -> Self {
        Self {
            buf,
            pos: 0,
            record,
            part,
        }
    }

    /// Takes `n` bytes for `field`, whose encoding started at `start` and needs `need` bytes
    /// from there (so a truncated string reports its whole size).
    fn take(
        &mut self,
        field: &'static str,
        start: usize,
        need: usize,
        n: usize,
    ) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(InternalTopicError::Truncated {
                record: self.record,
                part: self.part,
                field,
                at: start,
                need,
                available: self.buf.len().saturating_sub(start),
            }),
        }
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let start = self.pos;
        let bytes = self.take(field, start, N, N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16> {
        self.array(field).map(i16::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32> {
        self.array(field).map(i32::from_be_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// Kafka `STRING`: `INT16` length (negative is an error, not null), then UTF-8.
    fn string(&mut self, field: &'static str) -> Result<String> {
        let start = self.pos;
        let len = self.i16(field)?;
        let Ok(len) = usize::try_from(len) else {
            return Err(InternalTopicError::NegativeStringLength {
                record: self.record,
                part: self.part,
                field,
                at: start,
                len,
            });
        };
        let body = self.take(field, start, 2 + len, len)?;
        match std::str::from_utf8(body) {
            Ok(s) => Ok(s.to_owned()),
            Err(source) => Err(InternalTopicError::InvalidUtf8 {
                record: self.record,
                part: self.part,
                field,
                at: start,
                source,
            }),
        }
    }
}

/// Appends a Kafka `STRING`, refusing what does not fit in an `INT16` length.
fn put_string(
    out: &mut Vec<u8>,
    record: &'static str,
    part: RecordPart,
    field: &'static str,
    s: &str,
) -> Result<()> {
    let len = i16::try_from(s.len()).map_err(|_| InternalTopicError::StringTooLong {
        record,
        part,
        field,
        len: s.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A record of the `heartbeats` topic: proof that the flow `source -> target` is alive, with the
/// time it was produced. Compacted per (source, target) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// Alias of the cluster the heartbeat was emitted for (`sourceClusterAlias`); key field 1.
    pub source_cluster_alias: String,
    /// Alias of the cluster the heartbeat was written to (`targetClusterAlias`); key field 2.
    pub target_cluster_alias: String,
    /// Wall-clock milliseconds when it was produced (`timestamp`); MM2 also uses it as the
    /// record timestamp.
    pub timestamp: i64,
}

impl Heartbeat {
    /// Value version MM2 writes (`Heartbeat.VERSION`).
    pub const VERSION: i16 = 0;

    /// Key bytes: `sourceClusterAlias`, `targetClusterAlias`.
    pub fn encode_key(&self) -> Result<Vec<u8>> {
        let part = RecordPart::Key;
        let mut out = Vec::with_capacity(
            4 + self.source_cluster_alias.len() + self.target_cluster_alias.len(),
        );
        put_string(
            &mut out,
            HEARTBEAT,
            part,
            "sourceClusterAlias",
            &self.source_cluster_alias,
        )?;
        put_string(
            &mut out,
            HEARTBEAT,
            part,
            "targetClusterAlias",
            &self.target_cluster_alias,
        )?;
        Ok(out)
    }

    /// Value bytes (version 0): `version`, `timestamp`.
    pub fn encode_value(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        out.extend_from_slice(&Self::VERSION.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out
    }

    /// Decodes a heartbeat record; any version is read with the v0 layout and trailing bytes
    /// are ignored, as in MM2.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self> {
        let mut k = Reader::new(key, HEARTBEAT, RecordPart::Key);
        let source_cluster_alias = k.string("sourceClusterAlias")?;
        let target_cluster_alias = k.string("targetClusterAlias")?;
        let mut v = Reader::new(value, HEARTBEAT, RecordPart::Value);
        let _version = v.i16("version")?;
        let timestamp = v.i64("timestamp")?;
        Ok(Self {
            source_cluster_alias,
            target_cluster_alias,
            timestamp,
        })
    }
}

/// A record of `<source>.checkpoints.internal` on the target: a consumer group's committed
/// source offset and its translation on the target. Compacted per (group, topic, partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Consumer group id, the same on both clusters (`group`); key field 1.
    pub consumer_group_id: String,
    /// **Downstream** (target, renamed) topic, e.g. `A.orders` (`topic`); key field 2.
    pub topic: String,
    /// Partition, the same on both clusters (`partition`); key field 3.
    pub partition: i32,
    /// The group's committed offset on the source cluster (`upstreamOffset`).
    pub upstream_offset: i64,
    /// The translated offset on the target cluster (`offset`); what a consumer of the target
    /// resumes from.
    pub downstream_offset: i64,
    /// Commit metadata copied from the source commit; empty when none (`metadata`).
    pub metadata: String,
}

impl Checkpoint {
    /// Value version MM2 writes (`Checkpoint.VERSION`).
    pub const VERSION: i16 = 0;

    /// Key bytes: `group`, `topic`, `partition`.
    pub fn encode_key(&self) -> Result<Vec<u8>> {
        let part = RecordPart::Key;
        let mut out = Vec::with_capacity(8 + self.consumer_group_id.len() + self.topic.len());
        put_string(&mut out, CHECKPOINT, part, "group", &self.consumer_group_id)?;
        put_string(&mut out, CHECKPOINT, part, "topic", &self.topic)?;
        out.extend_from_slice(&self.partition.to_be_bytes());
        Ok(out)
    }

    /// Value bytes (version 0): `version`, `upstreamOffset`, `offset`, `metadata`.
    pub fn encode_value(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(20 + self.metadata.len());
        out.extend_from_slice(&Self::VERSION.to_be_bytes());
        out.extend_from_slice(&self.upstream_offset.to_be_bytes());
        out.extend_from_slice(&self.downstream_offset.to_be_bytes());
        put_string(
            &mut out,
            CHECKPOINT,
            RecordPart::Value,
            "metadata",
            &self.metadata,
        )?;
        Ok(out)
    }

    /// Decodes a checkpoint record; any version is read with the v0 layout and trailing bytes
    /// are ignored, as in MM2.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self> {
        let mut k = Reader::new(key, CHECKPOINT, RecordPart::Key);
        let consumer_group_id = k.string("group")?;
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        let mut v = Reader::new(value, CHECKPOINT, RecordPart::Value);
        let _version = v.i16("version")?;
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        let metadata = v.string("metadata")?;
        Ok(Self {
            consumer_group_id,
            topic,
            partition,
            upstream_offset,
            downstream_offset,
            metadata,
        })
    }
}

/// A record of `mm2-offset-syncs.<alias>.internal`: "source offset `upstream_offset` of this
/// partition was written at target offset `downstream_offset`". Compacted per (topic, partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    /// **Upstream** (source-cluster, not renamed) topic (`topic`); key field 1.
    pub topic: String,
    /// Partition (`partition`); key field 2.
    pub partition: i32,
    /// Offset of a replicated record in the source partition (`upstreamOffset`).
    pub upstream_offset: i64,
    /// Offset the same record received in the target partition (`offset`).
    pub downstream_offset: i64,
}

impl OffsetSync {
    /// Key bytes: `topic`, `partition`.
    pub fn encode_key(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(6 + self.topic.len());
        put_string(&mut out, OFFSET_SYNC, RecordPart::Key, "topic", &self.topic)?;
        out.extend_from_slice(&self.partition.to_be_bytes());
        Ok(out)
    }

    /// Value bytes (no version header): `upstreamOffset`, `offset`.
    pub fn encode_value(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.upstream_offset.to_be_bytes());
        out.extend_from_slice(&self.downstream_offset.to_be_bytes());
        out
    }

    /// Decodes an offset-sync record; trailing bytes are ignored, as in MM2.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self> {
        let mut k = Reader::new(key, OFFSET_SYNC, RecordPart::Key);
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        let mut v = Reader::new(value, OFFSET_SYNC, RecordPart::Value);
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        Ok(Self {
            topic,
            partition,
            upstream_offset,
            downstream_offset,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Connect offsets topic (`mm2-offsets.<source>.internal`), MirrorSourceConnector entries.
// ---------------------------------------------------------------------------------------------

/// Key of a Connect offsets-topic record written for MirrorSourceConnector: which source
/// partition the stored offset belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOffsetKey {
    /// Source cluster alias (`cluster`).
    pub cluster: String,
    /// Upstream topic name (`topic`).
    pub topic: String,
    /// Partition (`partition`).
    pub partition: i32,
}

/// Key bytes MM2 (Connect's `JsonConverter`, schemas off) writes for a source partition,
/// byte-exact: `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]`.
///
/// The field order is Java `HashMap` iteration order for these three keys (mm2-reference §2.4);
/// Connect finds offsets by these exact bytes, so the order matters for a hand-over to or from
/// Java MM2.
pub fn source_offset_key(source_alias: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut out = String::with_capacity(64 + source_alias.len() + topic.len());
    out.push_str("[\"");
    out.push_str(MIRROR_SOURCE_CONNECTOR);
    out.push_str("\",{\"cluster\":");
    push_json_string(&mut out, source_alias);
    out.push_str(",\"partition\":");
    out.push_str(&partition.to_string());
    out.push_str(",\"topic\":");
    push_json_string(&mut out, topic);
    out.push_str("}]");
    out.into_bytes()
}

/// Value bytes for a stored source offset, byte-exact: `{"offset":1234}`. MM2 stores the **last
/// replicated** upstream offset, not the next one.
pub fn source_offset_value(offset: i64) -> Vec<u8> {
    format!("{{\"offset\":{offset}}}").into_bytes()
}

/// Key kmirror adds to a source-offset value under scale-out: the group
/// generation that owned the partition when the offset was written. MM2
/// reads only `offset` and ignores it.
pub const GENERATION_FIELD: &str = "kmirror.generation";

/// A source-offset value with the writer's group generation (scale-out).
pub fn source_offset_value_with_generation(offset: i64, generation: i32) -> Vec<u8> {
    format!("{{\"offset\":{offset},\"{GENERATION_FIELD}\":{generation}}}").into_bytes()
}

/// The group generation in a source-offset value; `None` when absent
/// (written by MM2, or by kmirror without scale-out) or unreadable.
pub fn parse_source_offset_generation(value: &[u8]) -> Option<i32> {
    let Ok(Json::Object(fields)) = Json::parse(value, RecordPart::Value) else {
        return None;
    };
    match fields.iter().find(|(k, _)| k == GENERATION_FIELD) {
        Some((_, Json::Integer(g))) => i32::try_from(*g).ok(),
        _ => None,
    }
}

/// Parses a Connect offsets-topic key. `Ok(None)` for a well-formed key of another connector
/// (the checkpoint and heartbeat connectors share the topic); tolerant of whitespace, key order
/// and extra keys.
pub fn parse_source_offset_key(key: &[u8]) -> Result<Option<SourceOffsetKey>> {
    let part = RecordPart::Key;
    let json = Json::parse(key, part)?;
    let err = |reason| InternalTopicError::InvalidJson {
        record: SOURCE_OFFSET,
        part,
        reason,
        at: 0,
    };
    let Json::Array(items) = json else {
        return Err(err("key is not a JSON array"));
    };
    let [Json::String(connector), partition] = items.as_slice() else {
        return Err(err("key is not [connector name, partition object]"));
    };
    if connector != MIRROR_SOURCE_CONNECTOR {
        return Ok(None);
    }
    let Json::Object(fields) = partition else {
        return Err(err("source partition is not a JSON object"));
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let Some(Json::String(cluster)) = get("cluster") else {
        return Err(err("source partition has no string `cluster`"));
    };
    let Some(Json::String(topic)) = get("topic") else {
        return Err(err("source partition has no string `topic`"));
    };
    let Some(&Json::Integer(partition)) = get("partition") else {
        return Err(err("source partition has no integer `partition`"));
    };
    let partition = i32::try_from(partition)
        .map_err(|_| err("source partition `partition` is not an INT32"))?;
    Ok(Some(SourceOffsetKey {
        cluster: cluster.clone(),
        topic: topic.clone(),
        partition,
    }))
}

/// Parses a Connect offsets-topic value `{"offset":<long>}`, tolerant of whitespace and extra
/// keys. `Ok(None)` when `offset` is missing or null, which MM2 (`MirrorUtils.unwrapOffset`)
/// reads as -1, "no stored position". A null (tombstone) record value means the same and never
/// reaches this function. MM2 3.7+ also treats a stored negative offset as "no position".
pub fn parse_source_offset_value(value: &[u8]) -> Result<Option<i64>> {
    let part = RecordPart::Value;
    let err = |reason| InternalTopicError::InvalidJson {
        record: SOURCE_OFFSET,
        part,
        reason,
        at: 0,
    };
    let Json::Object(fields) = Json::parse(value, part)? else {
        return Err(err("value is not a JSON object"));
    };
    match fields.iter().find(|(k, _)| k == "offset").map(|(_, v)| v) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Integer(offset)) => Ok(Some(*offset)),
        Some(_) => Err(err("value `offset` is not an integer")),
    }
}

/// Appends `s` as a JSON string the way Jackson (Connect's `JsonConverter`) escapes it by
/// default: `"` and `\`, the short escapes `\b \t \n \f \r`, other control chars as `\u00XX`
/// (upper-case hex); everything else, including `/` and non-ASCII, verbatim.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON subset the offsets topic needs. Non-integer numbers are kept apart so that a
/// fractional offset is an error rather than a silent truncation.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number without fraction or exponent that fits in an `i64`.
    Integer(i64),
    /// Any other number (value not kept: no offsets-topic field needs it).
    OtherNumber,
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in document order (duplicates kept; lookups take the first).
    Object(Vec<(String, Json)>),
}

/// Nesting limit for [`Json::parse`], so hostile input cannot exhaust the stack. The shapes we
/// read nest two levels.
const MAX_JSON_DEPTH: usize = 16;

/// Recursive-descent parser over bytes; positions are byte offsets for errors.
struct JsonParser<'a> {
    /// Input text.
    buf: &'a [u8],
    /// Next byte.
    pos: usize,
    /// Key or value, for errors.
    part: RecordPart,
}

impl Json {
    /// Parses one JSON document (RFC 8259; surrounding whitespace allowed, nothing else after).
    fn parse(buf: &[u8], part: RecordPart) -> Result<Self> {
        let mut p = JsonParser { buf, pos: 0, part };
        let value = p.value(0)?;
        p.skip_ws();
        if p.pos != buf.len() {
            return Err(p.err("unexpected data after the JSON document"));
        }
        Ok(value)
    }
}

impl JsonParser<'_> {
    fn err(&self, reason: &'static str) -> InternalTopicError {
        InternalTopicError::InvalidJson {
            record: SOURCE_OFFSET,
            part: self.part,
            reason,
            at: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json> {
        if self.buf[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json> {
        if depth > MAX_JSON_DEPTH {
            return Err(self.err("JSON nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("unexpected end of JSON")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json> {
        self.pos += 1; // '{'
        let mut fields = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected an object key"));
            }
            let key = self.string()?;
            self.expect(b':', "expected `:` after an object key")?;
            let value = self.value(depth + 1)?;
            fields.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return Err(self.err("expected `,` or `}` in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]` in an array")),
            }
        }
    }

    fn number(&mut self) -> Result<Json> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.err("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        if !integer {
            return Ok(Json::OtherNumber);
        }
        // ASCII digits and an optional '-', so the slice is UTF-8.
        let text = std::str::from_utf8(&self.buf[start..self.pos])
            .map_err(|_| self.err("invalid number"))?;
        Ok(text.parse().map_or(Json::OtherNumber, Json::Integer))
    }

    fn digits(&mut self) -> Result<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.err("invalid number"));
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut n = 0;
        for &d in digits {
            let v = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            n = n * 16 + v;
        }
        self.pos += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1; // '"'
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{08}',
                        b'f' => '\u{0C}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut tmp = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                0x00..=0x1F => return Err(self.err("control character in string")),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8"))
    }

    /// After `\u`: one code point, combining a UTF-16 surrogate pair.
    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if !self.buf[self.pos..].starts_with(b"\\u") {
                return Err(self.err("unpaired surrogate"));
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("unpaired surrogate"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("unpaired surrogate"))
    }
}

/// Fuzz entry point shared by the cargo-fuzz target `fuzz/fuzz_targets/internal_records.rs`
/// and the stable corpus replay in `tests/it/fuzz_corpus.rs`.
pub mod fuzzing {
    use super::{
        Checkpoint, Heartbeat, OffsetSync, parse_source_offset_generation, parse_source_offset_key,
        parse_source_offset_value, source_offset_key, source_offset_value,
        source_offset_value_with_generation,
    };
    use crate::group::metadata::{Assignment, MemberMetadata};

    /// Which decoder an input goes to (`data[0] % 8`).
    pub const KNOBS: [&str; 8] = [
        "heartbeat",
        "checkpoint",
        "offset sync",
        "Connect offsets key and value",
        "group MemberMetadata",
        "group Assignment",
        "all of them",
        "all of them",
    ];

    /// Arbitrary bytes into every decoder of MM2 internal records and of kmirror's group
    /// protocol. Layout: `data[0]` picks the decoder ([`KNOBS`]), `data[1..3]` is the key length
    /// (big-endian, clamped to what is left), then the key, then the value. The JSON decoders
    /// (group metadata) read key and value concatenated.
    ///
    /// Properties (a panic is a finding):
    /// - nothing panics on any input, and every failure is a typed error;
    /// - a binary record that decodes re-encodes to a prefix of its input (trailing bytes are
    ///   ignored, like Java; the value's version field is read and ignored, so it is compared
    ///   from byte 2), and the re-encoded bytes decode to the same record;
    /// - a Connect offsets key, offset or generation that parses is written back by
    ///   [`source_offset_key`] / [`source_offset_value_with_generation`] and parses to the same;
    /// - group metadata and assignments that decode re-encode and decode to the same value
    ///   (loads within a few ULPs: serde_json's float parsing is not exactly round-trip).
    pub fn internal_records(data: &[u8]) {
        let [knob, hi, lo, rest @ ..] = data else {
            return;
        };
        let split = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (key, value) = rest.split_at(split);
        let all = knob % 8 >= 6;
        if all || knob % 8 == 0 {
            heartbeat(key, value);
        }
        if all || knob % 8 == 1 {
            checkpoint(key, value);
        }
        if all || knob % 8 == 2 {
            offset_sync(key, value);
        }
        if all || knob % 8 == 3 {
            connect_offsets(key, value);
        }
        if all || knob % 8 == 4 {
            member_metadata(rest);
        }
        if all || knob % 8 == 5 {
            assignment(rest);
        }
    }

    /// `encoded` is the start of `input`, from byte `from` on.
    fn is_prefix(encoded: &[u8], input: &[u8], from: usize, what: &str) {
        assert!(
            encoded.len() <= input.len() && encoded.get(from..) == input.get(from..encoded.len()),
            "{what}: re-encoded {encoded:02x?} is not a prefix of {input:02x?}"
        );
    }

    fn heartbeat(key: &[u8], value: &[u8]) {
        let Ok(hb) = Heartbeat::decode(key, value) else {
            return;
        };
        let k = hb.encode_key().expect("a decoded heartbeat key re-encodes");
        let v = hb.encode_value();
        is_prefix(&k, key, 0, "heartbeat key");
        is_prefix(&v, value, 2, "heartbeat value");
        assert_eq!(Heartbeat::decode(&k, &v).ok(), Some(hb));
    }

    fn checkpoint(key: &[u8], value: &[u8]) {
        let Ok(cp) = Checkpoint::decode(key, value) else {
            return;
        };
        let k = cp
            .encode_key()
            .expect("a decoded checkpoint key re-encodes");
        let v = cp
            .encode_value()
            .expect("a decoded checkpoint value re-encodes");
        is_prefix(&k, key, 0, "checkpoint key");
        is_prefix(&v, value, 2, "checkpoint value");
        assert_eq!(Checkpoint::decode(&k, &v).ok(), Some(cp));
    }

    fn offset_sync(key: &[u8], value: &[u8]) {
        let Ok(os) = OffsetSync::decode(key, value) else {
            return;
        };
        let k = os
            .encode_key()
            .expect("a decoded offset-sync key re-encodes");
        let v = os.encode_value();
        is_prefix(&k, key, 0, "offset-sync key");
        is_prefix(&v, value, 0, "offset-sync value");
        assert_eq!(OffsetSync::decode(&k, &v).ok(), Some(os));
    }

    fn connect_offsets(key: &[u8], value: &[u8]) {
        if let Ok(Some(k)) = parse_source_offset_key(key) {
            let again = source_offset_key(&k.cluster, &k.topic, k.partition);
            assert_eq!(parse_source_offset_key(&again).ok(), Some(Some(k)));
        }
        let offset = parse_source_offset_value(value);
        if let Ok(Some(o)) = offset {
            let again = source_offset_value(o);
            assert_eq!(parse_source_offset_value(&again).ok(), Some(Some(o)));
        }
        if let Some(g) = parse_source_offset_generation(value) {
            let o = match offset {
                Ok(Some(o)) => o,
                _ => -1,
            };
            let again = source_offset_value_with_generation(o, g);
            assert_eq!(parse_source_offset_generation(&again), Some(g));
            assert_eq!(parse_source_offset_value(&again).ok(), Some(Some(o)));
        }
    }

    /// Equal up to a few ULPs (serde_json parses floats fast, not always correctly rounded).
    fn close(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
    }

    fn member_metadata(bytes: &[u8]) {
        let Ok(m) = MemberMetadata::decode(bytes) else {
            return;
        };
        let again = MemberMetadata::decode(&m.encode()).expect("encoded metadata decodes");
        let finite = m.load.iter().filter(|(_, l)| l.is_finite());
        assert!(
            finite.clone().count() == again.load.len()
                && finite
                    .zip(&again.load)
                    .all(|((k1, l1), (k2, l2))| k1 == k2 && close(*l1, *l2)),
            "load {:?} came back as {:?}",
            m.load,
            again.load
        );
        let strip = |mut m: MemberMetadata| {
            m.load.clear();
            m
        };
        assert_eq!(strip(again), strip(m));
    }

    fn assignment(bytes: &[u8]) {
        let Ok(a) = Assignment::decode(bytes) else {
            return;
        };
        let again = Assignment::decode(&a.encode()).expect("an encoded assignment decodes");
        assert_eq!(again, a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT_KEY: &[u8] = include_bytes!("../testdata/mm2/heartbeat_key.bin");
    const HEARTBEAT_VALUE_V0: &[u8] = include_bytes!("../testdata/mm2/heartbeat_value_v0.bin");
    const CHECKPOINT_KEY: &[u8] = include_bytes!("../testdata/mm2/checkpoint_key.bin");
    const CHECKPOINT_VALUE_V0: &[u8] = include_bytes!("../testdata/mm2/checkpoint_value_v0.bin");
    const OFFSET_SYNC_KEY: &[u8] = include_bytes!("../testdata/mm2/offset_sync_key.bin");
    const OFFSET_SYNC_VALUE: &[u8] = include_bytes!("../testdata/mm2/offset_sync_value.bin");

    fn heartbeat_example() -> Heartbeat {
        Heartbeat {
            source_cluster_alias: "A".into(),
            target_cluster_alias: "B".into(),
            timestamp: 1_700_000_000_000,
        }
    }

    fn checkpoint_example() -> Checkpoint {
        Checkpoint {
            consumer_group_id: "g1".into(),
            topic: "A.orders".into(),
            partition: 3,
            upstream_offset: 1000,
            downstream_offset: 990,
            metadata: String::new(),
        }
    }

    fn offset_sync_example() -> OffsetSync {
        OffsetSync {
            topic: "orders".into(),
            partition: 3,
            upstream_offset: 1000,
            downstream_offset: 990,
        }
    }

    #[test]
    fn fixtures_hold_the_spec_example_bytes() {
        // mm2-reference §2.1-§2.3, copied from the spec text, so a changed fixture file fails.
        #[rustfmt::skip]
        let expected: [(&[u8], &[u8]); 6] = [
            (HEARTBEAT_KEY, &[0x00, 0x01, 0x41, 0x00, 0x01, 0x42]),
            (HEARTBEAT_VALUE_V0, &[0x00, 0x00, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00]),
            (CHECKPOINT_KEY, &[
                0x00, 0x02, 0x67, 0x31,                                     // group "g1"
                0x00, 0x08, 0x41, 0x2E, 0x6F, 0x72, 0x64, 0x65, 0x72, 0x73, // topic "A.orders"
                0x00, 0x00, 0x00, 0x03,                                     // partition 3
            ]),
            (CHECKPOINT_VALUE_V0, &[
                0x00, 0x00,                                     // version 0
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, // upstreamOffset 1000
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xDE, // offset 990
                0x00, 0x00,                                     // metadata ""
            ]),
            (OFFSET_SYNC_KEY, &[
                0x00, 0x06, 0x6F, 0x72, 0x64, 0x65, 0x72, 0x73, // topic "orders"
                0x00, 0x00, 0x00, 0x03,                         // partition 3
            ]),
            (OFFSET_SYNC_VALUE, &[
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, // upstreamOffset 1000
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xDE, // offset 990
            ]),
        ];
        for (fixture, spec) in expected {
            assert_eq!(fixture, spec);
        }
    }

    #[test]
    fn heartbeat_fixture_decodes_and_reencodes_byte_for_byte() {
        let hb = Heartbeat::decode(HEARTBEAT_KEY, HEARTBEAT_VALUE_V0).unwrap();
        assert_eq!(hb, heartbeat_example());
        assert_eq!(hb.encode_key().unwrap(), HEARTBEAT_KEY);
        assert_eq!(hb.encode_value(), HEARTBEAT_VALUE_V0);
    }

    #[test]
    fn checkpoint_fixture_decodes_and_reencodes_byte_for_byte() {
        let cp = Checkpoint::decode(CHECKPOINT_KEY, CHECKPOINT_VALUE_V0).unwrap();
        assert_eq!(cp, checkpoint_example());
        assert_eq!(cp.encode_key().unwrap(), CHECKPOINT_KEY);
        assert_eq!(cp.encode_value().unwrap(), CHECKPOINT_VALUE_V0);
    }

    #[test]
    fn offset_sync_fixture_decodes_and_reencodes_byte_for_byte() {
        let os = OffsetSync::decode(OFFSET_SYNC_KEY, OFFSET_SYNC_VALUE).unwrap();
        assert_eq!(os, offset_sync_example());
        assert_eq!(os.encode_key().unwrap(), OFFSET_SYNC_KEY);
        assert_eq!(os.encode_value(), OFFSET_SYNC_VALUE);
    }

    #[test]
    fn trailing_bytes_are_ignored_like_java() {
        let extra = |b: &[u8]| [b, &[0xAA, 0xBB, 0xCC][..]].concat();
        assert_eq!(
            Heartbeat::decode(&extra(HEARTBEAT_KEY), &extra(HEARTBEAT_VALUE_V0)).unwrap(),
            heartbeat_example()
        );
        assert_eq!(
            Checkpoint::decode(&extra(CHECKPOINT_KEY), &extra(CHECKPOINT_VALUE_V0)).unwrap(),
            checkpoint_example()
        );
        assert_eq!(
            OffsetSync::decode(&extra(OFFSET_SYNC_KEY), &extra(OFFSET_SYNC_VALUE)).unwrap(),
            offset_sync_example()
        );
    }

    #[test]
    fn any_value_version_is_read_with_the_v0_layout() {
        let mut v = HEARTBEAT_VALUE_V0.to_vec();
        v[..2].copy_from_slice(&7i16.to_be_bytes());
        assert_eq!(
            Heartbeat::decode(HEARTBEAT_KEY, &v).unwrap(),
            heartbeat_example()
        );
        let mut v = CHECKPOINT_VALUE_V0.to_vec();
        v[..2].copy_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(
            Checkpoint::decode(CHECKPOINT_KEY, &v).unwrap(),
            checkpoint_example()
        );
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        type Decode = fn(&[u8], &[u8]) -> Result<()>;
        let cases: [(&[u8], &[u8], Decode); 3] = [
            (HEARTBEAT_KEY, HEARTBEAT_VALUE_V0, |k, v| {
                Heartbeat::decode(k, v).map(drop)
            }),
            (CHECKPOINT_KEY, CHECKPOINT_VALUE_V0, |k, v| {
                Checkpoint::decode(k, v).map(drop)
            }),
            (OFFSET_SYNC_KEY, OFFSET_SYNC_VALUE, |k, v| {
                OffsetSync::decode(k, v).map(drop)
            }),
        ];
        for (key, value, decode) in cases {
            for n in 0..key.len() {
                let err = decode(&key[..n], value).unwrap_err();
                assert!(
                    matches!(
                        err,
                        InternalTopicError::Truncated {
                            part: RecordPart::Key,
                            ..
                        }
                    ),
                    "{err}"
                );
            }
            for n in 0..value.len() {
                let err = decode(key, &value[..n]).unwrap_err();
                assert!(
                    matches!(
                        err,
                        InternalTopicError::Truncated {
                            part: RecordPart::Value,
                            ..
                        }
                    ),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn truncation_error_names_field_and_offset() {
        // Checkpoint key cut inside "A.orders": the topic string starts at byte 4.
        let err = Checkpoint::decode(&CHECKPOINT_KEY[..9], CHECKPOINT_VALUE_V0).unwrap_err();
        match err {
            InternalTopicError::Truncated {
                record,
                part,
                field,
                at,
                need,
                available,
            } => {
                assert_eq!(
                    (record, part, field, at, need, available),
                    (CHECKPOINT, RecordPart::Key, "topic", 4, 10, 5)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = Checkpoint::decode(&CHECKPOINT_KEY[..9], CHECKPOINT_VALUE_V0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint key: field `topic` at byte 4 needs 10 bytes, 5 available"
        );
        // Offset sync value cut inside `offset`.
        let err = OffsetSync::decode(OFFSET_SYNC_KEY, &OFFSET_SYNC_VALUE[..12]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offset sync value: field `offset` at byte 8 needs 8 bytes, 4 available"
        );
    }

    #[test]
    fn negative_string_length_is_an_error() {
        let key = [0xFF, 0xFF, 0x00, 0x01, 0x42];
        let err = Heartbeat::decode(&key, HEARTBEAT_VALUE_V0).unwrap_err();
        assert!(matches!(
            err,
            InternalTopicError::NegativeStringLength {
                field: "sourceClusterAlias",
                at: 0,
                len: -1,
                ..
            }
        ));
        let mut value = CHECKPOINT_VALUE_V0.to_vec();
        value[18..20].copy_from_slice(&i16::MIN.to_be_bytes());
        let err = Checkpoint::decode(CHECKPOINT_KEY, &value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint value: field `metadata` at byte 18 has negative string length -32768"
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let key = [0x00, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00];
        let err = OffsetSync::decode(&key, OFFSET_SYNC_VALUE).unwrap_err();
        assert!(matches!(
            err,
            InternalTopicError::InvalidUtf8 {
                field: "topic",
                at: 0,
                ..
            }
        ));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn round_trips_hand_picked_values() {
        let long = "g".repeat(MAX_STRING_LEN);
        let strings = ["", "A", "us-east-1", "ünïcødé ✓", long.as_str()];
        let longs = [i64::MIN, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        let ints = [i32::MIN, -1, 0, 7, i32::MAX];
        for s in strings {
            for (&n, &p) in longs.iter().zip(ints.iter().cycle()) {
                let hb = Heartbeat {
                    source_cluster_alias: s.into(),
                    target_cluster_alias: "B".into(),
                    timestamp: n,
                };
                let got = Heartbeat::decode(&hb.encode_key().unwrap(), &hb.encode_value());
                assert_eq!(got.unwrap(), hb);

                let cp = Checkpoint {
                    consumer_group_id: s.into(),
                    topic: "A.t".into(),
                    partition: p,
                    upstream_offset: n,
                    downstream_offset: n.wrapping_sub(1),
                    metadata: s.into(),
                };
                let got =
                    Checkpoint::decode(&cp.encode_key().unwrap(), &cp.encode_value().unwrap());
                assert_eq!(got.unwrap(), cp);

                let os = OffsetSync {
                    topic: s.into(),
                    partition: p,
                    upstream_offset: n,
                    downstream_offset: n.wrapping_add(1),
                };
                let got = OffsetSync::decode(&os.encode_key().unwrap(), &os.encode_value());
                assert_eq!(got.unwrap(), os);
            }
        }
    }

    #[test]
    fn strings_longer_than_int16_are_refused_on_encode() {
        let cp = Checkpoint {
            metadata: "m".repeat(MAX_STRING_LEN + 1),
            ..checkpoint_example()
        };
        let err = cp.encode_value().unwrap_err();
        assert!(matches!(
            err,
            InternalTopicError::StringTooLong {
                field: "metadata",
                len: 32768,
                ..
            }
        ));
        let hb = Heartbeat {
            target_cluster_alias: "x".repeat(40_000),
            ..heartbeat_example()
        };
        assert!(hb.encode_key().is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // xorshift64: a cheap deterministic stand-in for a fuzzer over short inputs.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let klen = (next() % 24) as usize;
            let vlen = (next() % 24) as usize;
            let bytes: Vec<u8> = (0..klen + vlen).map(|_| next() as u8).collect();
            let (k, v) = bytes.split_at(klen);
            let _ = Heartbeat::decode(k, v);
            let _ = Checkpoint::decode(k, v);
            let _ = OffsetSync::decode(k, v);
            let _ = parse_source_offset_key(&bytes);
            let _ = parse_source_offset_value(&bytes);
            // The fuzz entry point, whose properties assert round trips on what decodes.
            fuzzing::internal_records(&bytes);
        }
    }

    /// A stand-in for proptest (a dev-dependency of `kmirror-protocol` only): encode then decode
    /// generated records, with multi-byte UTF-8 names and metadata and extreme numbers.
    #[test]
    fn round_trips_generated_values() {
        let mut state = 0xD1B5_4A32_D192_ED03u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = [
            'a', 'Z', '.', '-', '_', 'é', 'ü', '✓', '𝄞', '"', '\\', '\u{0}',
        ];
        let string = |next: &mut dyn FnMut() -> u64| -> String {
            let n = (next() % 40) as usize;
            (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        };
        let edges = [i64::MIN, -1, 0, 1, i64::MAX];
        let long = |next: &mut dyn FnMut() -> u64| match next() % 3 {
            0 => edges[(next() % 5) as usize],
            _ => next() as i64,
        };
        for _ in 0..2_000 {
            let hb = Heartbeat {
                source_cluster_alias: string(&mut next),
                target_cluster_alias: string(&mut next),
                timestamp: long(&mut next),
            };
            let got = Heartbeat::decode(&hb.encode_key().unwrap(), &hb.encode_value());
            assert_eq!(got.unwrap(), hb);
            let cp = Checkpoint {
                consumer_group_id: string(&mut next),
                topic: string(&mut next),
                partition: next() as i32,
                upstream_offset: long(&mut next),
                downstream_offset: long(&mut next),
                metadata: string(&mut next),
            };
            let got = Checkpoint::decode(&cp.encode_key().unwrap(), &cp.encode_value().unwrap());
            assert_eq!(got.unwrap(), cp);
            let os = OffsetSync {
                topic: string(&mut next),
                partition: next() as i32,
                upstream_offset: long(&mut next),
                downstream_offset: long(&mut next),
            };
            let got = OffsetSync::decode(&os.encode_key().unwrap(), &os.encode_value());
            assert_eq!(got.unwrap(), os);
            let key = SourceOffsetKey {
                cluster: string(&mut next),
                topic: string(&mut next),
                partition: next() as i32,
            };
            let bytes = source_offset_key(&key.cluster, &key.topic, key.partition);
            assert_eq!(parse_source_offset_key(&bytes).unwrap(), Some(key));
            let (offset, generation) = (long(&mut next), next() as i32);
            let v = source_offset_value_with_generation(offset, generation);
            assert_eq!(parse_source_offset_value(&v).unwrap(), Some(offset));
            assert_eq!(parse_source_offset_generation(&v), Some(generation));
        }
    }

    #[test]
    fn source_offset_key_and_value_are_byte_exact() {
        assert_eq!(
            source_offset_key("A", "orders", 0),
            br#"["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]"#
        );
        assert_eq!(source_offset_value(1234), br#"{"offset":1234}"#);
        assert_eq!(source_offset_value(-1), br#"{"offset":-1}"#);
        assert_eq!(
            source_offset_key("us-east", "A.orders", 17),
            br#"["MirrorSourceConnector",{"cluster":"us-east","partition":17,"topic":"A.orders"}]"#
        );
    }

    #[test]
    fn generation_rides_along_and_mm2_still_reads_the_offset() {
        let v = source_offset_value_with_generation(41, 7);
        assert_eq!(v, br#"{"offset":41,"kmirror.generation":7}"#);
        assert_eq!(parse_source_offset_value(&v).expect("parses"), Some(41));
        assert_eq!(parse_source_offset_generation(&v), Some(7));
        assert_eq!(
            parse_source_offset_generation(&source_offset_value(41)),
            None
        );
        assert_eq!(parse_source_offset_generation(b"not json"), None);
    }

    #[test]
    fn source_offset_key_escapes_like_jackson() {
        assert_eq!(
            source_offset_key("a\"b\\c/d\u{1}\n", "é", 1),
            "[\"MirrorSourceConnector\",{\"cluster\":\"a\\\"b\\\\c/d\\u0001\\n\",\"partition\":1,\"topic\":\"é\"}]"
                .as_bytes()
        );
    }

    #[test]
    fn source_offset_round_trips_and_parser_is_tolerant() {
        let key = SourceOffsetKey {
            cluster: "A\"x\u{1F600}".into(),
            topic: "orders".into(),
            partition: 5,
        };
        let bytes = source_offset_key(&key.cluster, &key.topic, key.partition);
        assert_eq!(parse_source_offset_key(&bytes).unwrap(), Some(key));
        assert_eq!(
            parse_source_offset_value(&source_offset_value(i64::MAX)).unwrap(),
            Some(i64::MAX)
        );
        assert_eq!(parse_source_offset_value(b"{}").unwrap(), None);
        assert_eq!(
            parse_source_offset_value(br#"{"offset":null}"#).unwrap(),
            None
        );

        let reordered = br#" [ "MirrorSourceConnector" , { "topic" : "t\u00e9" ,
            "partition" : 2, "extra": [null, true, 1.5e3], "cluster":"A" } ] "#;
        assert_eq!(
            parse_source_offset_key(reordered).unwrap(),
            Some(SourceOffsetKey {
                cluster: "A".into(),
                topic: "té".into(),
                partition: 2,
            })
        );
        assert_eq!(
            parse_source_offset_value(br#"{ "x": {}, "offset" : 42 }"#).unwrap(),
            Some(42)
        );
    }

    #[test]
    fn other_connectors_keys_are_skipped_not_errors() {
        let checkpoint =
            br#"["MirrorCheckpointConnector",{"partition":0,"topic":"A.orders","group":"g1"}]"#;
        assert_eq!(parse_source_offset_key(checkpoint).unwrap(), None);
        let heartbeat =
            br#"["MirrorHeartbeatConnector",{"sourceClusterAlias":"A","targetClusterAlias":"B"}]"#;
        assert_eq!(parse_source_offset_key(heartbeat).unwrap(), None);
    }

    #[test]
    fn malformed_offsets_json_is_a_typed_error() {
        for bad in [
            &b""[..],
            b"{",
            b"[\"MirrorSourceConnector\"]",
            b"[\"MirrorSourceConnector\",{\"cluster\":\"A\",\"topic\":\"t\"}]",
            b"[\"MirrorSourceConnector\",{\"cluster\":\"A\",\"topic\":\"t\",\"partition\":1.0}]",
            b"[\"MirrorSourceConnector\",{\"cluster\":\"A\",\"topic\":\"t\",\"partition\":4294967296}]",
            b"[\"MirrorSourceConnector\",{\"cluster\":1,\"topic\":\"t\",\"partition\":0}]",
            b"[\"MirrorSourceConnector\",{\"cluster\":\"A\",\"topic\":\"t\",\"partition\":0}] x",
            b"[\"\\ud800\",{}]",
            b"[\"a\x01\",{}]",
        ] {
            let err = parse_source_offset_key(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    InternalTopicError::InvalidJson {
                        part: RecordPart::Key,
                        ..
                    }
                ),
                "{}: {err}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [
            &b"null"[..],
            b"{\"offset\":\"1\"}",
            b"{\"offset\":1.5}",
            b"{\"offset\":99999999999999999999}",
            b"{\"offset\":01}",
            b"{\"offset\":-}",
        ] {
            assert!(
                parse_source_offset_value(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = [b"[".repeat(1000), b"]".repeat(1000)].concat();
        assert!(parse_source_offset_key(&deep).is_err());
        let err = parse_source_offset_value(b"{\"offset\" 1}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "MirrorSourceConnector offset value: expected `:` after an object key at byte 10"
        );
    }
}
