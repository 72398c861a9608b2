//! Codecs for the decode path: gzip, snappy (xerial framing or raw), lz4 (frame
//! format) and zstd, with a cap on decompressed size so a hostile batch cannot
//! exhaust memory.
//!
//! # References
//! - `zero-copy-forwarding.md` §1.2 (framing per codec).
//! - Kafka `common/compress/*` (`SnappyFactory`, `Lz4BlockOutputStream`).

use std::io::{Read, Write};

use bytes::Bytes;

use super::Compression;

/// Largest decompressed records section accepted (a batch is at most
/// `max.message.bytes` compressed; Kafka's default is 1 MiB, hostile input can
/// claim far more).
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// xerial snappy-java stream header.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Block size Kafka's Java producer uses for snappy (snappy-java default).
const XERIAL_BLOCK: usize = 32 * 1024;

/// A codec failure, without batch context (the caller adds it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecFault(pub String);

fn fault(e: impl std::fmt::Display) -> CodecFault {
    CodecFault(e.to_string())
}

fn read_limited(r: impl Read) -> Result<Vec<u8>, CodecFault> {
    let mut out = Vec::new();
    r.take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(fault)?;
    if out.len() > MAX_DECOMPRESSED {
        return Err(CodecFault(format!(
            "decompressed size exceeds {MAX_DECOMPRESSED} bytes"
        )));
    }
    Ok(out)
}

/// Decompresses a records section.
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Bytes, CodecFault> {
    let out = match codec {
        Compression::None => return Ok(Bytes::copy_from_slice(data)),
        Compression::Gzip => read_limited(flate2::read::MultiGzDecoder::new(data))?,
        Compression::Snappy => snappy_decompress(data)?,
        Compression::Lz4 => read_limited(lz4_flex::frame::FrameDecoder::new(data))?,
        Compression::Zstd => read_limited(zstd::stream::read::Decoder::new(data).map_err(fault)?)?,
    };
    Ok(Bytes::from(out))
}

fn snappy_raw(block: &[u8]) -> Result<Vec<u8>, CodecFault> {
    let len = snap::raw::decompress_len(block).map_err(fault)?;
    if len > MAX_DECOMPRESSED {
        return Err(CodecFault(format!("snappy block claims {len} bytes")));
    }
    snap::raw::Decoder::new()
        .decompress_vec(block)
        .map_err(fault)
}

fn snappy_decompress(data: &[u8]) -> Result<Vec<u8>, CodecFault> {
    if !data.starts_with(XERIAL_MAGIC) {
        // snappy-java reads a stream without its header as one raw block.
        return snappy_raw(data);
    }
    let mut pos = 16; // magic + version + compatible version
    if data.len() < pos {
        return Err(CodecFault("truncated xerial header".into()));
    }
    let mut out = Vec::new();
    while pos < data.len() {
        let Some(len_bytes) = data.get(pos..pos + 4) else {
            return Err(CodecFault("truncated xerial block length".into()));
        };
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        pos += 4;
        let Some(block) = pos.checked_add(len).and_then(|end| data.get(pos..end)) else {
            return Err(CodecFault("truncated xerial block".into()));
        };
        pos += len;
        out.extend_from_slice(&snappy_raw(block)?);
        if out.len() > MAX_DECOMPRESSED {
            return Err(CodecFault("decompressed size too large".into()));
        }
    }
    Ok(out)
}

/// Compresses a records section the way Kafka's Java producer frames it.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CodecFault> {
    Ok(match codec {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).map_err(fault)?;
            e.finish().map_err(fault)?
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 16);
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK) {
                let c = enc.compress_vec(chunk).map_err(fault)?;
                out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                out.extend_from_slice(&c);
            }
            out
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            e.write_all(data).map_err(fault)?;
            e.finish().map_err(fault)?
        }
        Compression::Zstd => zstd::stream::encode_all(data, 3).map_err(fault)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let z = compress(c, &data).unwrap();
            assert_eq!(&decompress(c, &z).unwrap()[..], &data[..], "{c:?}");
        }
    }

    #[test]
    fn raw_snappy_without_xerial_header_is_read() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"hello hello")
            .unwrap();
        assert_eq!(
            &decompress(Compression::Snappy, &raw).unwrap()[..],
            b"hello hello"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(
                decompress(
                    c,
                    b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xff"
                )
                .is_err()
            );
        }
    }
}
