//! Length-prefixed Kafka frames: a 4-byte big-endian size, then that many bytes.
//! `FrameDecoder` follows tokio-util's contract: `Ok(None)` means "need more bytes".
//!
//! # References
//! - Kafka protocol guide, "Common Request and Response Structure".

use bytes::{Buf, Bytes, BytesMut};

use crate::error::FrameError;

/// Default largest response frame we accept (Kafka's `fetch.max.bytes` default
/// is 55 MiB; leave head room for the response envelope).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// Splits a byte stream into frames without copying frame bodies.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Largest frame accepted; checked before anything is allocated.
    max_frame: usize,
    /// Size of the frame whose prefix was consumed but whose body has not arrived.
    pending: Option<usize>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames above `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            pending: None,
        }
    }

    /// Takes one whole frame body out of `buf`, or `Ok(None)` if more bytes are needed.
    ///
    /// On `Ok(None)` the buffer has been reserved to hold the whole frame, so
    /// the caller's next read fills it without reallocating.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let size = match self.pending {
            Some(size) => size,
            None => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let raw = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                let size =
                    usize::try_from(raw).map_err(|_| FrameError::NegativeSize { size: raw })?;
                if size > self.max_frame {
                    return Err(FrameError::TooLarge {
                        limit: self.max_frame,
                        actual: size,
                    });
                }
                buf.advance(4);
                self.pending = Some(size);
                size
            }
        };
        if buf.len() < size {
            buf.reserve(size - buf.len());
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(buf.split_to(size).freeze()))
    }
}

/// Prefixes `body` with its 4-byte size.
pub fn encode_frame(body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_single_frame_multi_packet_wait() {
        let mut d = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[0, 3, b'a']);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"bc\x00\x00\x00\x00");
        assert_eq!(d.decode(&mut buf), Ok(Some(Bytes::from_static(b"abc"))));
        assert_eq!(d.decode(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(d.decode(&mut buf), Ok(None));
    }

    #[test]
    fn negative_and_oversized_frames_are_errors() {
        let mut d = FrameDecoder::new(10);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::NegativeSize { size: -1 })
        );
        let mut d = FrameDecoder::new(10);
        let mut buf = BytesMut::from(&[0, 0, 0, 11][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooLarge {
                limit: 10,
                actual: 11
            })
        );
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let f = encode_frame(b"hello");
        let mut buf = BytesMut::from(&f[..]);
        assert_eq!(
            FrameDecoder::default().decode(&mut buf),
            Ok(Some(Bytes::from_static(b"hello")))
        );
    }
}
