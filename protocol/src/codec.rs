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
