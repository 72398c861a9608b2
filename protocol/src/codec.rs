//! Request encoding and response decoding over `Bytes`, wrapping kafka-protocol
//! with the right header versions and a check that no bytes are left over.
//!
//! # References
//! - Kafka protocol guide, "Headers" (request header v1/v2, response header v0/v1).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

use crate::error::CodecError;

/// The API key of a request type.
pub fn api_key<R: Request>() -> ApiKey {
    ApiKey::try_from(R::KEY).expect("kafka-protocol request types have known api keys")
}

/// Encodes one request as a complete frame (size prefix included).
pub fn encode_request<R: Request>(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    req: &R,
) -> Result<Bytes, CodecError> {
    let api = api_key::<R>();
    let err = |source| CodecError::Encode {
        api,
        version,
        source,
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| StrBytes::from_string(c.to_owned())));
    let hv = R::header_version(version);
    let size = header.compute_size(hv).map_err(err)? + req.compute_size(version).map_err(err)?;
    let mut buf = BytesMut::with_capacity(size + 4);
    buf.put_u32(size as u32);
    header.encode(&mut buf, hv).map_err(err)?;
    req.encode(&mut buf, version).map_err(err)?;
    Ok(buf.freeze())
}

/// Reads the correlation id at the start of a response frame.
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    frame
        .get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes a whole response frame (header + body) of request type `R`.
///
/// Record blobs in the response stay slices of `frame` (no copy).
pub fn decode_response<R: Request>(version: i16, frame: Bytes) -> Result<R::Response, CodecError> {
    let api = api_key::<R>();
    let len = frame.len();
    let mut buf = frame;
    let hv = <R::Response as kafka_protocol::protocol::HeaderVersion>::header_version(version);
    if buf.len() < 4 {
        return Err(CodecError::ShortHeader { len });
    }
    let decode_err = |source| CodecError::Decode {
        api,
        version,
        source,
    };
    ResponseHeader::decode(&mut buf, hv).map_err(decode_err)?;
    let resp = R::Response::decode(&mut buf, version).map_err(decode_err)?;
    if buf.has_remaining() {
        return Err(CodecError::TrailingBytes {
            api,
            version,
            read: len - buf.remaining(),
            len,
        });
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

    #[test]
    fn api_versions_round_trip_through_frames() {
        let f = encode_request(7, Some("kmirror"), 3, &ApiVersionsRequest::default()).unwrap();
        assert_eq!(
            u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize,
            f.len() - 4
        );
        // Build a response frame: header v0 (ApiVersions always uses v0) + body.
        let resp = ApiVersionsResponse::default().with_throttle_time_ms(5);
        let mut b = BytesMut::new();
        b.put_i32(7);
        resp.encode(&mut b, 3).unwrap();
        let frame = b.freeze();
        assert_eq!(peek_correlation_id(&frame), Some(7));
        let back = decode_response::<ApiVersionsRequest>(3, frame).unwrap();
        assert_eq!(back.throttle_time_ms, 5);
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut b = BytesMut::new();
        b.put_i32(1);
        ApiVersionsResponse::default().encode(&mut b, 0).unwrap();
        b.put_u8(0xff);
        assert!(matches!(
            decode_response::<ApiVersionsRequest>(0, b.freeze()),
            Err(CodecError::TrailingBytes { .. })
        ));
    }
}

/// One partition's part of a Produce request: exactly one record batch, given
/// as chunks (e.g. a rewritten header and the untouched records slice).
#[derive(Debug, Clone)]
pub struct ProducePart<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// The batch bytes, in order.
    pub batch: &'a [Bytes],
}

fn put_uvarint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Encodes a Produce request (v3-v12) as a frame of chunks, so batch bytes are
/// written as they are instead of being copied into one request buffer.
///
/// kafka-protocol's encoder copies `records` into its output; this writes the
/// same bytes (checked against it in tests) around the caller's slices.
pub fn encode_produce_vectored(
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    acks: i16,
    timeout_ms: i32,
    parts: &[ProducePart<'_>],
) -> Result<Vec<Bytes>, CodecError> {
    if !(3..=12).contains(&version) {
        return Err(CodecError::Encode {
            api: ApiKey::Produce,
            version,
            source: anyhow::anyhow!("vectored produce supports v3-v12"),
        });
    }
    let flexible = version >= 9;
    let mut chunks: Vec<Bytes> = Vec::with_capacity(1 + parts.len() * 3);
    let mut cur = BytesMut::with_capacity(256);
    cur.put_u32(0); // size, patched at the end
    cur.put_i16(ApiKey::Produce as i16);
    cur.put_i16(version);
    cur.put_i32(correlation_id);
    match client_id {
        Some(c) => {
            cur.put_i16(c.len() as i16);
            cur.put_slice(c.as_bytes());
        }
        None => cur.put_i16(-1),
    }
    if flexible {
        put_uvarint(&mut cur, 0); // header tagged fields
        put_uvarint(&mut cur, 0); // transactional_id = null
    } else {
        cur.put_i16(-1);
    }
    cur.put_i16(acks);
    cur.put_i32(timeout_ms);
    // Group consecutive parts of the same topic.
    let mut topics: Vec<(&str, Vec<&ProducePart<'_>>)> = Vec::new();
    for p in parts {
        match topics.iter_mut().find(|(t, _)| *t == p.topic) {
            Some((_, v)) => v.push(p),
            None => topics.push((p.topic, vec![p])),
        }
    }
    let put_len = |cur: &mut BytesMut, n: usize| {
        if flexible {
            put_uvarint(cur, n as u64 + 1);
        } else {
            cur.put_i32(n as i32);
        }
    };
    put_len(&mut cur, topics.len());
    for (topic, ps) in &topics {
        if flexible {
            put_uvarint(&mut cur, topic.len() as u64 + 1);
        } else {
            cur.put_i16(topic.len() as i16);
        }
        cur.put_slice(topic.as_bytes());
        put_len(&mut cur, ps.len());
        for p in ps {
            cur.put_i32(p.partition);
            let n: usize = p.batch.iter().map(|b| b.len()).sum();
            put_len(&mut cur, n);
            chunks.push(std::mem::take(&mut cur).freeze());
            chunks.extend(p.batch.iter().cloned());
            cur = BytesMut::with_capacity(64);
            if flexible {
                put_uvarint(&mut cur, 0); // partition tagged fields
            }
        }
        if flexible {
            put_uvarint(&mut cur, 0); // topic tagged fields
        }
    }
    if flexible {
        put_uvarint(&mut cur, 0); // request tagged fields
    }
    chunks.push(cur.freeze());
    let total: usize = chunks.iter().map(|c| c.len()).sum::<usize>() - 4;
    let mut first = BytesMut::from(&chunks[0][..]);
    first[..4].copy_from_slice(&(total as u32).to_be_bytes());
    chunks[0] = first.freeze();
    Ok(chunks.into_iter().filter(|c| !c.is_empty()).collect())
}

#[cfg(test)]
mod produce_tests {
    use super::*;
    use kafka_protocol::messages::ProduceRequest;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};

    #[test]
    fn vectored_produce_matches_kafka_protocol_encoding() {
        let b1 = Bytes::from_static(b"\x01\x02\x03header");
        let b2 = Bytes::from_static(b"records-bytes");
        let b3 = Bytes::from_static(b"other");
        for version in 3..=12 {
            let parts = [
                ProducePart {
                    topic: "orders",
                    partition: 0,
                    batch: &[b1.clone(), b2.clone()],
                },
                ProducePart {
                    topic: "orders",
                    partition: 2,
                    batch: std::slice::from_ref(&b3),
                },
                ProducePart {
                    topic: "x",
                    partition: 1,
                    batch: std::slice::from_ref(&b3),
                },
            ];
            let ours: Vec<u8> =
                encode_produce_vectored(9, Some("kmirror"), version, -1, 30_000, &parts)
                    .unwrap()
                    .concat();
            let joined = Bytes::from([&b1[..], &b2[..]].concat());
            let req = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(30_000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_static_str("orders")))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(joined)),
                            PartitionProduceData::default()
                                .with_index(2)
                                .with_records(Some(b3.clone())),
                        ]),
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_static_str("x")))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(1)
                                .with_records(Some(b3.clone())),
                        ]),
                ]);
            let theirs = encode_request(9, Some("kmirror"), version, &req).unwrap();
            assert_eq!(ours, &theirs[..], "produce v{version}");
        }
    }
}
