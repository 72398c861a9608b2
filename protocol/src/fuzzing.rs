//! Fuzz entry points, shared by the cargo-fuzz targets in `fuzz/` and by the
//! corpus replay test in `tests/it/fuzz_corpus.rs` (feature `fuzzing`).
//!
//! Every entry point takes arbitrary bytes and checks *properties* of the
//! sans-io layers, not only that nothing panics:
//!
//! - [`frame_decode`]: feeding a stream in small chunks yields exactly the
//!   frames (and the error) a one-shot reading of the stream predicts, and
//!   the buffer is reserved for a pending frame.
//! - [`response_decode`]: a response that decodes re-encodes and decodes to
//!   the same value; a Fetch response's `records` are slices of the frame and
//!   split like [`batch_split`] input.
//! - [`batch_split`]: the batches and the truncated tail cover the input
//!   exactly, each batch is a zero-copy slice at its position.
//! - [`batch_rewrite`]: a rewrite keeps the body bytes identical (and
//!   shared), writes the header the spec table asks for, and its CRC is valid.
//! - [`record_decode`]: skips the CRC (it is patched) so the fuzzer gets deep;
//!   decoded records rebuild with the builder and decode to the same records.
//!
//! A function panics only when a property is violated; that is the finding.
//! [`seeds`] returns hand-made inputs for the corpora.
//!
//! # References
//! - `house-style.md` §5.8; rskafka `protocol_reader` and
//!   `record_batch_body_reader` fuzz targets.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, DescribeConfigsRequest, FetchRequest,
    FetchResponse, FindCoordinatorRequest, InitProducerIdRequest, JoinGroupRequest,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    ResponseHeader, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Message, Request, StrBytes};

use crate::batch::builder::BatchBuilder;
use crate::batch::compression::compress;
use crate::batch::header::{
    ATTRIBUTES, COMPRESSION_MASK, CONTROL_BIT, CRC, DELETE_HORIZON_BIT, HEADER_LEN, LENGTH, MAGIC,
    TIMESTAMP_TYPE_BIT, TRANSACTIONAL_BIT,
};
use crate::batch::legacy::{LegacyEntry, encode_message};
use crate::batch::records::{self, Record};
use crate::batch::rewrite::{HeaderRewrite, ProducerFields, rewrite};
use crate::batch::{Compression, RawBatch, RecordBatch, batches};
use crate::codec::{decode_response, peek_correlation_id};
use crate::error::{BatchError, FrameError};
use crate::frame::{FrameDecoder, encode_frame};

/// A fuzz entry point: arbitrary bytes in, panics only on a violated property.
pub type Target = fn(&[u8]);

/// Every entry point by its cargo-fuzz target name (`fuzz/fuzz_targets/<name>.rs`
/// and `testdata/fuzz/<name>/`).
pub const TARGETS: [(&str, Target); 5] = [
    ("frame_decode", frame_decode),
    ("response_decode", response_decode),
    ("batch_split", batch_split),
    ("batch_rewrite", batch_rewrite),
    ("record_decode", record_decode),
];

/// The entry point named `name`, if there is one (`sasl_exchange` needs the
/// `client` feature, where the SASL code lives).
pub fn target(name: &str) -> Option<Target> {
    #[cfg(feature = "client")]
    if name == "sasl_exchange" {
        return Some(sasl_exchange);
    }
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// SASL input from the network and the config: `data[0]` picks the mechanism
/// (bits 0-1) and where the rest splits (bits 2-7) into the server-first and
/// server-final messages; the whole rest is also parsed as a
/// `sasl.jaas.config` value.
///
/// Properties: no panic; the exchange ends in `Done` only after a server
/// message carrying `v=`, and a JAAS error never quotes an option value.
#[cfg(feature = "client")]
pub fn sasl_exchange(data: &[u8]) {
    use crate::client::sasl::{Credentials, Mechanism, SaslClient, Secret, Step, parse_jaas};
    let Some((&knob, rest)) = data.split_first() else {
        return;
    };
    let mechanism = match knob & 3 {
        0 => Mechanism::Plain,
        1 => Mechanism::ScramSha256,
        _ => Mechanism::ScramSha512,
    };
    let cut = (usize::from(knob >> 2) * rest.len()) / 64;
    let (first, last) = rest.split_at(cut);
    let credentials = Credentials {
        username: "fuzz".into(),
        password: Secret::new("fuzz-password-7f3a".into()),
    };
    let mut client = SaslClient::new(mechanism, credentials);
    let _ = client.initial();
    if let Ok(Step::Respond(_)) = client.step(first)
        && let Ok(Step::Done) = client.step(last)
    {
        assert!(
            last.windows(2).any(|w| w == b"v="),
            "SCRAM finished without a server signature"
        );
    }
    if let Ok(text) = std::str::from_utf8(rest) {
        match parse_jaas(text) {
            Ok(config) => {
                let _ = config.credentials(mechanism);
            }
            Err(e) => {
                let shown = e.to_string();
                // Values are never quoted back: no long run of the input appears.
                if text.len() >= 24 {
                    assert!(!shown.contains(text), "JAAS error quotes its input");
                }
            }
        }
    }
}

fn read_i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// True when `part` points into `whole` (a zero-copy slice of it).
fn is_slice_of(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

// ---------------------------------------------------------------------------
// frame_decode

/// Largest frames the fuzzed decoders accept, picked by the knob byte.
const FRAME_LIMITS: [usize; 8] = [0, 3, 16, 255, 4096, 65_536, 1 << 20, 1 << 20];

/// What a one-shot reading of a frame stream predicts.
#[derive(Debug, PartialEq, Eq)]
struct FrameModel {
    /// Whole frames, in order.
    frames: Vec<(usize, usize)>,
    /// The error that ends the stream, if any.
    error: Option<FrameError>,
}

fn frame_model(stream: &[u8], max_frame: usize) -> FrameModel {
    let mut frames = Vec::new();
    let mut pos = 0;
    while stream.len() - pos >= 4 {
        let raw = read_i32_at(stream, pos);
        let Ok(size) = usize::try_from(raw) else {
            let error = Some(FrameError::NegativeSize { size: raw });
            return FrameModel { frames, error };
        };
        if size > max_frame {
            let error = Some(FrameError::TooLarge {
                limit: max_frame,
                actual: size,
            });
            return FrameModel { frames, error };
        }
        if stream.len() - pos - 4 < size {
            break;
        }
        frames.push((pos + 4, size));
        pos += 4 + size;
    }
    FrameModel {
        frames,
        error: None,
    }
}

/// Frame decoding: `data[0]` picks the chunk size (bits 0-4, 1..=32 bytes) and
/// the frame limit (bits 5-7); the rest is the byte stream.
///
/// Properties: chunked decoding yields exactly the frames and the error a
/// one-shot reading predicts; every frame re-encodes to its bytes in the
/// stream; while a frame is pending the buffer has room for all of it.
pub fn frame_decode(data: &[u8]) {
    let Some((&knob, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(knob & 0x1f) + 1;
    let max_frame = FRAME_LIMITS[usize::from(knob >> 5)];
    let model = frame_model(stream, max_frame);

    let mut decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::new();
    let mut frames: Vec<Bytes> = Vec::new();
    let mut error = None;
    let mut fed = 0;
    'feed: for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
        // Bytes of the next (incomplete) frame that have been fed so far.
        let done = frames.len() * 4 + frames.iter().map(Bytes::len).sum::<usize>();
        let partial = fed - done;
        if partial >= 4 {
            let size = read_i32_at(stream, done) as usize;
            assert_eq!(
                buf.len(),
                partial - 4,
                "a pending frame's prefix must be consumed exactly once"
            );
            assert!(
                buf.capacity() >= size,
                "pending frame of {size} bytes: buffer capacity {} was not reserved",
                buf.capacity()
            );
        } else {
            assert_eq!(buf.len(), partial, "bytes of a partial prefix must stay");
        }
    }
    assert_eq!(error, model.error, "chunked and one-shot errors differ");
    assert_eq!(
        frames.len(),
        model.frames.len(),
        "chunked decoding produced {} frames, one-shot {}",
        frames.len(),
        model.frames.len()
    );
    for (frame, &(at, size)) in frames.iter().zip(&model.frames) {
        assert_eq!(&frame[..], &stream[at..at + size], "frame at {at} differs");
        assert_eq!(
            &encode_frame(frame)[..],
            &stream[at - 4..at + size],
            "frame at {at} does not re-encode to its bytes"
        );
        let expected = (frame.len() >= 4).then(|| read_i32_at(frame, 0));
        assert_eq!(peek_correlation_id(frame), expected);
    }
    if error.is_none() {
        assert_eq!(decoder.decode(&mut buf), Ok(None), "stream exhausted");
    }
}

// ---------------------------------------------------------------------------
// response_decode

/// True when a decoded message holds an unknown tagged field whose tag was
/// 2^31 or more on the wire.
///
/// kafka-protocol 0.18 stores such tags as negative `i32` keys, and its
/// encoder counts them but writes only tags `0..`, so the value cannot
/// round-trip (an upstream encoder bug; kmirror never encodes responses, and
/// `testdata/fuzz/response_decode/crash-kafka-protocol-negative-tag` keeps
/// the input). `unknown_tagged_fields` is a `BTreeMap`, so a negative key is
/// the first one its `Debug` output shows.
fn has_negative_unknown_tag(debug: &str) -> bool {
    const FIELD: &str = "unknown_tagged_fields: {";
    debug
        .match_indices(FIELD)
        .any(|(at, _)| debug[at + FIELD.len()..].starts_with('-'))
}

/// Decodes `frame` as a response of `R`, then checks the value survives an
/// encode/decode round trip at the same version. Returns the decoded value.
fn response_round_trip<R>(version: i16, frame: &Bytes) -> Option<R::Response>
where
    R: Request,
    R::Response: PartialEq + std::fmt::Debug,
{
    let api = ApiKey::try_from(R::KEY).ok()?;
    let resp = decode_response::<R>(version, frame.clone()).ok()?;
    if has_negative_unknown_tag(&format!("{resp:?}")) {
        return Some(resp);
    }
    let hv = <R::Response as HeaderVersion>::header_version(version);
    let correlation_id = peek_correlation_id(frame).expect("decoded frames hold a header");
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = resp
        .compute_size(version)
        .unwrap_or_else(|e| panic!("{api:?} v{version}: decoded response has no size: {e:#}"));
    let mut out = BytesMut::new();
    header
        .encode(&mut out, hv)
        .expect("response header encodes");
    let before = out.len();
    resp.encode(&mut out, version)
        .unwrap_or_else(|e| panic!("{api:?} v{version}: decoded response does not encode: {e:#}"));
    assert_eq!(
        out.len() - before,
        size,
        "{api:?} v{version}: compute_size disagrees with encode"
    );
    let again = decode_response::<R>(version, out.freeze()).unwrap_or_else(|e| {
        panic!("{api:?} v{version}: re-encoded response does not decode: {e:#}")
    });
    assert_eq!(
        again, resp,
        "{api:?} v{version}: response changed in an encode/decode round trip"
    );
    Some(resp)
}

/// Fetch responses: `records` are slices of the frame and split cleanly.
fn check_fetch_records(resp: &FetchResponse, frame: &Bytes) {
    for topic in &resp.responses {
        for p in &topic.partitions {
            let Some(records) = &p.records else { continue };
            if !records.is_empty() {
                assert!(
                    is_slice_of(records, frame),
                    "fetch records must be a slice of the frame, not a copy"
                );
            }
            check_split(records);
        }
    }
}

/// Response decoding: `data[0..2]` is the API key, `data[2..4]` the version
/// (both big-endian), the rest a response frame (header and body) as the
/// frame decoder hands it over.
///
/// Covers the APIs kmirror calls. Properties: a decoded response re-encodes
/// and decodes to the same value, with `compute_size` matching; Fetch records
/// are zero-copy slices that satisfy the [`batch_split`] properties.
pub fn response_decode(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let key = i16::from_be_bytes([data[0], data[1]]);
    let version = i16::from_be_bytes([data[2], data[3]]);
    let frame = Bytes::copy_from_slice(&data[4..]);
    let Ok(api) = ApiKey::try_from(key) else {
        return;
    };
    match api {
        ApiKey::Produce => drop(response_round_trip::<ProduceRequest>(version, &frame)),
        ApiKey::Fetch => {
            if let Some(resp) = response_round_trip::<FetchRequest>(version, &frame) {
                check_fetch_records(&resp, &frame);
            }
        }
        ApiKey::ListOffsets => drop(response_round_trip::<ListOffsetsRequest>(version, &frame)),
        ApiKey::Metadata => drop(response_round_trip::<MetadataRequest>(version, &frame)),
        ApiKey::ApiVersions => drop(response_round_trip::<ApiVersionsRequest>(version, &frame)),
        ApiKey::CreateTopics => drop(response_round_trip::<CreateTopicsRequest>(version, &frame)),
        ApiKey::DescribeConfigs => drop(response_round_trip::<DescribeConfigsRequest>(
            version, &frame,
        )),
        ApiKey::FindCoordinator => drop(response_round_trip::<FindCoordinatorRequest>(
            version, &frame,
        )),
        ApiKey::OffsetFetch => drop(response_round_trip::<OffsetFetchRequest>(version, &frame)),
        ApiKey::OffsetCommit => drop(response_round_trip::<OffsetCommitRequest>(version, &frame)),
        ApiKey::InitProducerId => drop(response_round_trip::<InitProducerIdRequest>(
            version, &frame,
        )),
        ApiKey::JoinGroup => drop(response_round_trip::<JoinGroupRequest>(version, &frame)),
        ApiKey::SyncGroup => drop(response_round_trip::<SyncGroupRequest>(version, &frame)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// batch_split

fn entry_bytes(entry: &RawBatch) -> &Bytes {
    match entry {
        RawBatch::V2(b) => b.as_bytes(),
        RawBatch::Legacy(l) => l.as_bytes(),
    }
}

/// Reads every header field of a v2 view (none may panic) and checks the
/// CRC accessors agree.
fn exercise_v2(b: &RecordBatch) {
    assert_eq!(b.magic(), 2);
    assert_eq!(b.size(), b.length() as usize + 12, "size is Length + 12");
    assert_eq!(b.records_bytes().len(), b.size() - HEADER_LEN);
    let _ = (b.compression(), b.timestamp_type(), b.last_offset());
    let _ = (b.is_transactional(), b.is_control(), b.has_delete_horizon());
    let _ = (b.base_timestamp(), b.max_timestamp(), b.is_contiguous());
    let _ = (b.producer_id(), b.producer_epoch(), b.base_sequence());
    let _ = (
        b.partition_leader_epoch(),
        b.records_count(),
        format!("{b:?}"),
    );
    assert_eq!(
        b.verify_crc().is_ok(),
        b.compute_crc() == b.crc(),
        "verify_crc disagrees with compute_crc"
    );
    assert_eq!(
        RecordBatch::new(b.as_bytes().clone()).as_ref(),
        Ok(b),
        "a split batch must re-wrap as the same view"
    );
}

/// Splits `blob` and checks the split covers it exactly. Returns the entries.
fn check_split(blob: &Bytes) -> Vec<RawBatch> {
    let mut it = batches(blob.clone());
    let mut covered = 0;
    let mut out = Vec::new();
    let mut failed = false;
    while let Some(item) = it.next() {
        match item {
            Ok(entry) => {
                let bytes = entry_bytes(&entry);
                let size = entry.size();
                assert_eq!(bytes.len(), size);
                assert!(covered + size <= blob.len(), "entry runs past the blob");
                assert_eq!(
                    bytes.as_ptr(),
                    blob[covered..].as_ptr(),
                    "entry must be a zero-copy slice at byte {covered}"
                );
                covered += size;
                assert_eq!(it.position(), covered, "position after an entry");
                match &entry {
                    RawBatch::V2(b) => exercise_v2(b),
                    RawBatch::Legacy(l) => {
                        assert!(matches!(l.magic(), 0 | 1));
                        assert_eq!(entry.last_offset(), l.offset());
                        let _ = l.verify_crc();
                    }
                }
                out.push(entry);
            }
            Err(e) => {
                failed = true;
                match e {
                    BatchError::BadMagic { at, .. } | BatchError::LengthMismatch { at, .. } => {
                        assert_eq!(at, covered, "error must point at the bad entry")
                    }
                    other => panic!("the splitter reported an unexpected error: {other}"),
                }
                assert_eq!(it.position(), covered, "a bad entry is not consumed");
                assert!(it.truncated_tail().is_none(), "error and tail together");
            }
        }
    }
    assert!(it.next().is_none(), "the splitter must stay ended");
    let sizes: usize = out.iter().map(RawBatch::size).sum();
    assert_eq!(sizes, covered);
    if failed {
        return out;
    }
    match it.truncated_tail() {
        Some(tail) => {
            assert_eq!(
                sizes, tail.at,
                "batch sizes + truncated tail must cover the input"
            );
            let rest = &blob[tail.at..];
            assert!(!rest.is_empty(), "an empty tail is not a tail");
            assert_eq!(
                tail.base_offset,
                (rest.len() >= 8).then(|| read_i64_at(rest, 0)),
                "tail base offset"
            );
            if rest.len() > MAGIC {
                let declared = i64::from(read_i32_at(rest, LENGTH)) + 12;
                assert!(
                    declared > rest.len() as i64,
                    "a tail of {} bytes holds a whole entry of {declared} bytes",
                    rest.len()
                );
            }
        }
        None => assert_eq!(
            covered,
            blob.len(),
            "without a tail the batches must cover the input exactly"
        ),
    }
    // Splitting the entries again, back to back, yields the same entries.
    let mut joined = BytesMut::with_capacity(covered);
    out.iter().for_each(|e| joined.put_slice(entry_bytes(e)));
    let again: Vec<RawBatch> = batches(joined.freeze())
        .collect::<Result<_, _>>()
        .expect("re-splitting whole entries cannot fail");
    assert_eq!(again, out, "re-splitting whole entries changed them");
    out
}

/// Splitting a records blob. Properties: batch sizes plus the truncated tail
/// cover the input exactly; every batch is a zero-copy slice at its position;
/// an error points at the entry it rejects and ends the iteration.
pub fn batch_split(data: &[u8]) {
    check_split(&Bytes::copy_from_slice(data));
}

// ---------------------------------------------------------------------------
// batch_rewrite

/// A copy of `b` with its CRC made valid, so the fuzzer gets past the check.
fn with_valid_crc(b: &RecordBatch) -> RecordBatch {
    let mut v = b.as_bytes().to_vec();
    let crc = crc32c::crc32c(&v[ATTRIBUTES..]);
    v[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    RecordBatch::new(Bytes::from(v)).expect("same layout, new CRC")
}

fn check_rewritten(src: &RecordBatch, rw: &HeaderRewrite) {
    let out = match rewrite(src, rw) {
        Ok(out) => out,
        Err(BatchError::CrcMismatch { .. }) => {
            assert!(src.verify_crc().is_err(), "rewrite refused a valid CRC");
            return;
        }
        Err(e) => panic!("rewrite failed on a split batch: {e}"),
    };
    assert!(src.verify_crc().is_ok(), "rewrite accepted a corrupt batch");
    let body = out.body();
    assert_eq!(out.header().len(), HEADER_LEN, "header is 61 bytes");
    assert_eq!(
        &body[..],
        &src.as_bytes()[HEADER_LEN..],
        "body bytes changed"
    );
    assert_eq!(
        body.as_ptr(),
        src.as_bytes()[HEADER_LEN..].as_ptr(),
        "body must be shared, not copied"
    );
    assert_eq!(out.len(), src.size());
    assert!(!out.is_empty());
    assert_eq!(out.records_count(), src.records_count());
    let [h, b] = out.chunks();
    let whole = out.to_bytes();
    assert_eq!(&whole[..HEADER_LEN], &h[..]);
    assert_eq!(&whole[HEADER_LEN..], &b[..]);

    let view = RecordBatch::new(whole).expect("a rewritten batch must parse");
    view.verify_crc()
        .expect("a rewritten batch must have a valid CRC");
    assert_eq!(view.base_offset(), 0);
    assert_eq!(view.partition_leader_epoch(), -1);
    let mut attributes = src.attributes() & !(TRANSACTIONAL_BIT | DELETE_HORIZON_BIT);
    if !rw.keep_log_append_time {
        attributes &= !TIMESTAMP_TYPE_BIT;
    }
    assert_eq!(view.attributes(), attributes, "attributes per §6.3");
    assert_eq!(view.producer_id(), rw.producer.producer_id);
    assert_eq!(view.producer_epoch(), rw.producer.producer_epoch);
    assert_eq!(view.base_sequence(), rw.producer.base_sequence);
    // Everything else in the header is unchanged.
    assert_eq!(view.length(), src.length());
    assert_eq!(view.last_offset_delta(), src.last_offset_delta());
    assert_eq!(view.base_timestamp(), src.base_timestamp());
    assert_eq!(view.max_timestamp(), src.max_timestamp());
    assert_eq!(view.records_count(), src.records_count());
    if view.as_bytes()[ATTRIBUTES..HEADER_LEN] == src.as_bytes()[ATTRIBUTES..HEADER_LEN] {
        assert_eq!(view.crc(), src.crc(), "covered bytes unchanged, CRC kept");
    }
    // Rewriting again with the same settings is a fixed point.
    let twice = rewrite(&view, rw).expect("a rewritten batch rewrites again");
    assert_eq!(twice.header(), out.header(), "rewrite is not idempotent");
    // Changing only the producer fields keeps the CRC valid.
    let other = ProducerFields {
        producer_id: rw.producer.producer_id ^ 0x5a,
        producer_epoch: rw.producer.producer_epoch.wrapping_add(1),
        base_sequence: rw.producer.base_sequence.wrapping_add(17),
    };
    let re = out.with_producer(other);
    assert_eq!(
        re.body().as_ptr(),
        body.as_ptr(),
        "with_producer copied the body"
    );
    let re = RecordBatch::new(re.to_bytes()).expect("with_producer output parses");
    re.verify_crc()
        .expect("with_producer output has a valid CRC");
    assert_eq!(re.producer_id(), other.producer_id);
    assert_eq!(re.producer_epoch(), other.producer_epoch);
    assert_eq!(re.base_sequence(), other.base_sequence);
}

/// Header rewrite. `data[0]` holds knobs: bit 0 makes each batch's CRC valid
/// first, bit 1 installs producer fields (otherwise -1s), bit 2 keeps
/// LogAppendTime; the rest is a records blob whose v2 batches are rewritten.
///
/// Properties: a rewrite succeeds exactly when the CRC is valid; the body is
/// the same bytes in the same buffer; the header follows the spec table and
/// the CRC over the new header and the old body is valid.
pub fn batch_rewrite(data: &[u8]) {
    let Some((&knobs, blob)) = data.split_first() else {
        return;
    };
    let producer = if knobs & 2 != 0 {
        ProducerFields {
            producer_id: 0x1020_3040_5060 + i64::from(knobs),
            producer_epoch: i16::from(knobs >> 3),
            base_sequence: i32::from(knobs) << 20,
        }
    } else {
        ProducerFields::NONE
    };
    let rw = HeaderRewrite {
        producer,
        keep_log_append_time: knobs & 4 != 0,
    };
    for entry in batches(Bytes::copy_from_slice(blob)) {
        let Ok(entry) = entry else { break };
        let RawBatch::V2(b) = entry else { continue };
        let src = if knobs & 1 != 0 {
            with_valid_crc(&b)
        } else {
            b
        };
        check_rewritten(&src, &rw);
    }
}

// ---------------------------------------------------------------------------
// record_decode

/// Rebuilds decoded records with the builder and checks they decode the same.
fn check_rebuild(batch: &RecordBatch, recs: &[Record]) {
    let codec = batch.compression().expect("decoded batches have a codec");
    let mut builder = BatchBuilder::new(codec);
    builder
        .base_offset(batch.base_offset())
        .producer(
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence(),
        )
        .extra_attributes(batch.attributes() & !COMPRESSION_MASK);
    for r in recs {
        builder.push(r.clone());
    }
    assert_eq!(builder.len(), recs.len());
    let built = builder
        .build()
        .unwrap_or_else(|e| panic!("decoded records do not re-encode: {e}"));
    let view = RecordBatch::new(built).expect("built batch parses");
    assert_eq!(view.records_count() as usize, recs.len());
    assert!(
        recs.is_empty() || view.is_contiguous(),
        "builder output is contiguous"
    );
    let again =
        records::decode(&view).unwrap_or_else(|e| panic!("built batch does not decode: {e}"));
    assert_eq!(again.len(), recs.len());
    let base = batch.base_offset();
    let contiguous = recs
        .iter()
        .enumerate()
        .all(|(i, r)| r.offset == base.wrapping_add(i as i64));
    for (i, (a, e)) in again.iter().zip(recs).enumerate() {
        assert_eq!(a.key, e.key, "record {i}: key");
        assert_eq!(a.value, e.value, "record {i}: value");
        assert_eq!(a.headers, e.headers, "record {i}: headers");
        assert_eq!(a.timestamp, e.timestamp, "record {i}: timestamp");
        if contiguous {
            assert_eq!(a.offset, e.offset, "record {i}: offset");
        }
    }
}

fn record_decode_v2(data: &[u8]) {
    if data.len() < HEADER_LEN {
        return;
    }
    let Ok(length) = i32::try_from(data.len() - 12) else {
        return;
    };
    let mut v = data.to_vec();
    v[LENGTH..LENGTH + 4].copy_from_slice(&length.to_be_bytes());
    v[MAGIC] = 2;
    let batch = RecordBatch::new(Bytes::from(v)).expect("a patched header forms a view");
    if batch.is_control() {
        let _ = records::control_type(&batch);
    }
    let Ok(recs) = records::decode_unchecked(&batch) else {
        return;
    };
    assert_eq!(
        recs.len(),
        batch.records_count() as usize,
        "record count must match the header"
    );
    check_rebuild(&batch, &recs);
}

fn record_decode_legacy(data: &[u8]) {
    if data.len() < MAGIC + 2 {
        return;
    }
    let Ok(size) = i32::try_from(data.len() - 12) else {
        return;
    };
    let mut v = data.to_vec();
    v[LENGTH..LENGTH + 4].copy_from_slice(&size.to_be_bytes());
    let crc = crc32fast::hash(&v[MAGIC..]);
    v[12..16].copy_from_slice(&crc.to_be_bytes());
    let v = Bytes::from(v);
    let entry = LegacyEntry::new(v.clone()).expect("18 bytes make an entry");
    entry.verify_crc().expect("patched CRC is valid");
    let Ok(recs) = entry.decode() else { return };
    let (magic, attributes) = (data[MAGIC] as i8, data[MAGIC + 1]);
    if attributes & 0x07 != 0 {
        return;
    }
    assert_eq!(recs.len(), 1, "an uncompressed message is one record");
    let r = &recs[0];
    assert_eq!(r.offset, entry.offset());
    let re = encode_message(
        r.offset,
        magic,
        r.timestamp,
        r.key.as_deref(),
        r.value.as_deref(),
    );
    let back = LegacyEntry::new(re.clone())
        .and_then(|e| e.decode())
        .unwrap_or_else(|e| panic!("a re-encoded legacy message does not decode: {e}"));
    assert_eq!(back, recs, "legacy message changed in a round trip");
    // Java reads any negative length as null; only -1 is canonical.
    let key_at = MAGIC + 2 + if magic == 1 { 8 } else { 0 };
    let key_len = read_i32_at(&v, key_at);
    let value_at = key_at + 4 + usize::try_from(key_len).unwrap_or(0);
    let canonical = key_len >= -1 && read_i32_at(&v, value_at) >= -1;
    if attributes == 0 && canonical && re.len() == v.len() {
        assert_eq!(
            re, v,
            "re-encoding a plain legacy message changed its bytes"
        );
    }
}

/// Record decoding, with the CRC out of the way so the fuzzer gets deep.
///
/// The input is one entry: byte 16 (magic) 0 or 1 selects a legacy message,
/// anything else a v2 batch (magic forced to 2). Length/size and the CRC are
/// patched to fit, then the records are decoded (decompressing as needed).
///
/// Properties: a v2 batch's record count matches its header, and the records
/// rebuild with [`BatchBuilder`] to a batch that decodes to the same keys,
/// values, headers, timestamps (and offsets when they were contiguous); a
/// plain legacy message re-encodes to the same record.
pub fn record_decode(data: &[u8]) {
    match data.get(MAGIC) {
        None => {}
        Some(0 | 1) => record_decode_legacy(data),
        Some(_) => record_decode_v2(data),
    }
}

// ---------------------------------------------------------------------------
// seeds

fn sample_records() -> Vec<Record> {
    vec![
        Record::new(Some(b"k1"), Some(b"v1"), 1_700_000_000_000).with_header("h", Some(b"x")),
        Record::new(None, None, 1_699_999_999_000).with_header("n", None),
        Record::new(Some(b""), Some(&[7u8; 300]), 1_700_000_000_500),
    ]
}

fn built_batch(codec: Compression, attrs: i16, base_offset: i64, pid: i64) -> Bytes {
    let mut b = BatchBuilder::new(codec);
    b.base_offset(base_offset)
        .producer(
            pid,
            if pid < 0 { -1 } else { 2 },
            if pid < 0 { -1 } else { 9 },
        )
        .extra_attributes(attrs);
    for r in sample_records() {
        b.push(r);
    }
    b.build().expect("sample batch builds")
}

fn control_batch() -> Bytes {
    let mut b = BatchBuilder::new(Compression::None);
    b.producer(7, 0, -1)
        .extra_attributes(TRANSACTIONAL_BIT | CONTROL_BIT);
    b.push(Record::new(
        Some(&[0, 0, 0, 1]),
        Some(&[0, 0, 0, 0, 0, 5]),
        1,
    ));
    b.build().expect("control batch builds")
}

/// A legacy wrapper message holding `inner` (a message set) compressed with `codec`.
fn legacy_wrapper(offset: i64, magic: i8, codec: Compression, inner: &[u8]) -> Bytes {
    let value = compress(codec, inner).expect("compresses");
    let mut m = vec![magic as u8, codec.id() as u8];
    if magic == 1 {
        m.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    m.extend_from_slice(&(-1i32).to_be_bytes());
    m.extend_from_slice(&(value.len() as i32).to_be_bytes());
    m.extend_from_slice(&value);
    let mut out = Vec::with_capacity(m.len() + 16);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&((m.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&m).to_be_bytes());
    out.extend_from_slice(&m);
    Bytes::from(out)
}

fn legacy_entries() -> Vec<(String, Bytes)> {
    let mut out = vec![
        (
            "legacy-v0".to_owned(),
            encode_message(5, 0, -1, Some(b"k"), Some(b"v")),
        ),
        (
            "legacy-v1".to_owned(),
            encode_message(6, 1, 1234, None, Some(b"w")),
        ),
    ];
    for magic in [0i8, 1] {
        let mut inner = encode_message(0, magic, 10, Some(b"a"), Some(b"1")).to_vec();
        inner.extend_from_slice(&encode_message(1, magic, 11, None, Some(b"2")));
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            out.push((
                format!("legacy-v{magic}-{}", codec.name()),
                legacy_wrapper(41, magic, codec, &inner),
            ));
        }
    }
    out
}

fn response_seed<R>(version: i16, correlation_id: i32, resp: &R::Response) -> Option<Vec<u8>>
where
    R: Request,
{
    let mut out = BytesMut::new();
    out.put_i16(R::KEY);
    out.put_i16(version);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(
            &mut out,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .ok()?;
    resp.encode(&mut out, version).ok()?;
    Some(out.to_vec())
}

fn response_seeds_for<R>(name: &str, resp: R::Response, out: &mut Vec<(String, Vec<u8>)>)
where
    R: Request,
{
    let range = <R::Response as Message>::VERSIONS;
    for version in range.min..=range.max {
        if let Some(seed) = response_seed::<R>(version, version.into(), &resp) {
            out.push((format!("{name}-v{version}"), seed));
        }
    }
}

fn fetch_response_with(records: Bytes) -> FetchResponse {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    FetchResponse::default().with_responses(vec![
        FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("orders")))
            .with_partitions(vec![
                PartitionData::default()
                    .with_partition_index(3)
                    .with_high_watermark(100)
                    .with_records(Some(records)),
            ]),
    ])
}

fn response_seeds() -> Vec<(String, Vec<u8>)> {
    use kafka_protocol::messages::*;
    let mut out = Vec::new();
    let mut blob = built_batch(Compression::None, 0, 10, 3).to_vec();
    blob.extend_from_slice(&built_batch(Compression::Lz4, 0, 13, 3)[..70]);
    let fetch = fetch_response_with(Bytes::from(blob));
    response_seeds_for::<FetchRequest>("fetch", fetch, &mut out);
    response_seeds_for::<ProduceRequest>("produce", ProduceResponse::default(), &mut out);
    response_seeds_for::<ListOffsetsRequest>("list-offsets", Default::default(), &mut out);
    let metadata = MetadataResponse::default().with_brokers(vec![
        metadata_response::MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("localhost"))
            .with_port(9092),
    ]);
    response_seeds_for::<MetadataRequest>("metadata", metadata, &mut out);
    let versions = ApiVersionsResponse::default().with_api_keys(vec![
        api_versions_response::ApiVersion::default()
            .with_api_key(1)
            .with_max_version(12),
    ]);
    response_seeds_for::<ApiVersionsRequest>("api-versions", versions, &mut out);
    response_seeds_for::<CreateTopicsRequest>("create-topics", Default::default(), &mut out);
    response_seeds_for::<DescribeConfigsRequest>("describe-configs", Default::default(), &mut out);
    response_seeds_for::<FindCoordinatorRequest>("find-coordinator", Default::default(), &mut out);
    response_seeds_for::<OffsetFetchRequest>("offset-fetch", Default::default(), &mut out);
    response_seeds_for::<OffsetCommitRequest>("offset-commit", Default::default(), &mut out);
    response_seeds_for::<InitProducerIdRequest>("init-producer-id", Default::default(), &mut out);
    response_seeds_for::<JoinGroupRequest>("join-group", Default::default(), &mut out);
    response_seeds_for::<SyncGroupRequest>("sync-group", Default::default(), &mut out);
    out
}

/// Hand-made seed inputs as `(target, name, bytes)`: frame streams, responses
/// of every API and version kmirror uses, built batches of every codec,
/// control batches and legacy messages (plain and compressed wrappers).
///
/// `fuzz/seed.sh` writes them into the corpora beside the captured fixtures.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    // frame_decode: knob byte, then a stream.
    let mut stream = encode_frame(b"\x00\x00\x00\x07abc").to_vec();
    stream.extend_from_slice(&encode_frame(b""));
    stream.extend_from_slice(&encode_frame(&[1u8; 300]));
    stream.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
    for knob in [0x03u8, 0x80, 0xe0, 0x7f] {
        let mut s = vec![knob];
        s.extend_from_slice(&stream);
        out.push(("frame_decode", format!("frames-{knob:02x}"), s));
    }
    out.push((
        "frame_decode",
        "negative".into(),
        vec![0xe1, 0xff, 0xff, 0xff, 0xfe],
    ));
    out.push((
        "frame_decode",
        "too-large".into(),
        vec![0x40, 0, 0, 1, 0, 1],
    ));

    for (name, seed) in response_seeds() {
        out.push(("response_decode", name, seed));
    }

    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut entries: Vec<(String, Bytes)> = Vec::new();
    for c in codecs {
        entries.push((format!("v2-{}", c.name()), built_batch(c, 0, 0, -1)));
    }
    entries.push((
        "v2-txn-logappend".into(),
        built_batch(
            Compression::None,
            TRANSACTIONAL_BIT | TIMESTAMP_TYPE_BIT,
            77,
            5,
        ),
    ));
    entries.push(("v2-control".into(), control_batch()));
    entries.extend(legacy_entries());
    for (name, e) in &entries {
        out.push(("record_decode", name.clone(), e.to_vec()));
        out.push(("batch_split", name.clone(), e.to_vec()));
        if name.starts_with("v2") {
            for knob in [0u8, 3, 6] {
                let mut s = vec![knob];
                s.extend_from_slice(e);
                out.push(("batch_rewrite", format!("{name}-{knob}"), s));
            }
        }
    }
    // A blob of mixed entries with a truncated tail.
    let mut blob: Vec<u8> = entries.iter().flat_map(|(_, e)| e.to_vec()).collect();
    blob.extend_from_slice(&entries[0].1[..40]);
    out.push(("batch_split", "mixed-with-tail".into(), blob.clone()));
    let mut rw = vec![7u8];
    rw.extend_from_slice(&blob);
    out.push(("batch_rewrite", "mixed-with-tail".into(), rw));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_passes_its_target() {
        let seeds = seeds();
        assert!(seeds.len() > 50);
        for (t, name, bytes) in seeds {
            let f = target(t).unwrap_or_else(|| panic!("unknown target {t}"));
            f(&bytes);
            let _ = name;
        }
    }
}
