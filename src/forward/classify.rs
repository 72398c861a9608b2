//! Step 2 of the data path: decide, per fetched batch, whether it passes through
//! untouched (the common case), is rebuilt, or is dropped. Pure: no I/O.
//!
//! Order of the rules follows `zero-copy-forwarding.md` §6.2. Only the rebuild
//! rules (legacy up-convert, trim, renumber, split, codec change) decode records;
//! `grep records::` in this file lists every such place.
//!
//! # References
//! - `zero-copy-forwarding.md` §4.3 (aborted transactions), §6.2 (rules), §6.5 (mapping).

use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use kmirror_protocol::batch::builder::BatchBuilder;
use kmirror_protocol::batch::records::{self, ControlType, Record};
use kmirror_protocol::batch::{Compression, RawBatch, RecordBatch};
use kmirror_protocol::client::api::fetch::AbortedTransaction;
use kmirror_protocol::error::BatchError;

/// A batch ready for the producer, with where its records came from.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The batch to forward (a fetched slice, or a rebuilt batch).
    pub batch: RecordBatch,
    /// Source offset of each record, when it is not `first + index` (rebuilt
    /// batches of compacted or trimmed input).
    pub source_offsets: Option<Vec<i64>>,
    /// Source offset of the batch's first record.
    pub first_source_offset: i64,
    /// Source offset of the batch's last record (what the offset sync pairs).
    pub last_source_offset: i64,
    /// Next source offset to fetch once this batch is acknowledged.
    pub next_source_offset: i64,
    /// How the batch was treated, for counters and logs.
    pub path: Path,
}

/// How a forwarded batch was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Header rewrite only; records untouched (zero-copy).
    PassThrough,
    /// Magic 0/1 decoded and rebuilt as v2.
    UpConverted,
    /// Compacted batch renumbered to contiguous deltas.
    Renumbered,
    /// Records before the start position removed.
    Trimmed,
    /// Larger than the target's max.message.bytes: split.
    Split,
    /// Re-compressed with the codec the target producer asks for.
    Recompressed,
    /// Several small consecutive batches merged while the window was full.
    Coalesced,
}

/// What to do with one fetched batch.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Forward these batches (usually one).
    Forward(Vec<Outgoing>),
    /// Nothing to forward; advance the position to `next_source_offset`.
    Drop {
        /// Position after the dropped batch.
        next_source_offset: i64,
        /// Why, for counters and logs.
        reason: DropReason,
    },
}

/// Why a batch was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Entirely below the current position.
    AlreadyForwarded,
    /// Transaction marker.
    Control,
    /// Empty compacted batch.
    Empty,
    /// Aborted transaction under read_committed.
    Aborted,
}

/// Per-partition state the rules need.
#[derive(Debug, Clone, Default)]
pub struct ClassifyState {
    /// Next source offset to forward.
    pub next_source_offset: i64,
    /// Aborted transactions not yet reached, by first offset.
    pending_aborted: BTreeSet<(i64, i64)>,
    /// Producer ids whose current transaction is aborted.
    aborted_pids: HashSet<i64>,
}

/// Settings that change the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyConfig {
    /// Source fetched with read_committed (drop aborted transactions).
    pub read_committed: bool,
    /// Target producer codec, when it differs from "keep the source codec".
    pub target_compression: Option<Compression>,
    /// Largest batch the target accepts (`max.message.bytes`).
    pub max_batch_bytes: usize,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            read_committed: true,
            target_compression: None,
            // Kafka's max.message.bytes default (1 MiB + 12).
            max_batch_bytes: 1_048_588,
        }
    }
}

impl ClassifyState {
    /// State for a partition starting at `next_source_offset`.
    pub fn new(next_source_offset: i64) -> Self {
        Self {
            next_source_offset,
            ..Self::default()
        }
    }

    /// Adds the aborted transactions listed in a fetch response.
    pub fn add_aborted(&mut self, aborted: &[AbortedTransaction]) {
        for a in aborted {
            self.pending_aborted.insert((a.first_offset, a.producer_id));
        }
    }

    /// Classifies one batch and advances the position past it.
    pub fn classify(
        &mut self,
        raw: RawBatch,
        cfg: &ClassifyConfig,
    ) -> Result<Decision, BatchError> {
        let d = self.decide(raw, cfg)?;
        self.next_source_offset = match &d {
            Decision::Forward(out) => out
                .last()
                .map_or(self.next_source_offset, |o| o.next_source_offset),
            Decision::Drop {
                next_source_offset, ..
            } => *next_source_offset,
        };
        Ok(d)
    }

    fn decide(&mut self, raw: RawBatch, cfg: &ClassifyConfig) -> Result<Decision, BatchError> {
        let next = self.next_source_offset;
        // Rule 1: already forwarded.
        if raw.last_offset() < next {
            return Ok(Decision::Drop {
                next_source_offset: next,
                reason: DropReason::AlreadyForwarded,
            });
        }
        let batch = match raw {
            RawBatch::V2(b) => b,
            // Rule 2: magic 0/1 must be up-converted.
            RawBatch::Legacy(entry) => {
                let recs: Vec<Record> = entry
                    .decode()?
                    .into_iter()
                    .filter(|r| r.offset >= next)
                    .collect();
                let next_source_offset = entry.offset() + 1;
                if recs.is_empty() {
                    return Ok(Decision::Drop {
                        next_source_offset,
                        reason: DropReason::AlreadyForwarded,
                    });
                }
                let codec = cfg.target_compression.unwrap_or(Compression::None);
                return rebuild(recs, codec, cfg, next_source_offset, Path::UpConverted);
            }
        };
        let next_source_offset = batch.last_offset() + 1;
        // Aborted-transaction bookkeeping (§4.3), header fields only.
        if cfg.read_committed && batch.producer_id() >= 0 {
            let last = batch.last_offset();
            while let Some(&(first, pid)) = self.pending_aborted.first() {
                if first > last {
                    break;
                }
                self.pending_aborted.pop_first();
                self.aborted_pids.insert(pid);
            }
        }
        // Rule 4: control batches are never forwarded.
        if batch.is_control() {
            if cfg.read_committed
                && batch.records_count() > 0
                && records::control_type(&batch)? == ControlType::Abort
            {
                self.aborted_pids.remove(&batch.producer_id());
            }
            return Ok(Decision::Drop {
                next_source_offset,
                reason: DropReason::Control,
            });
        }
        // Rule 5: empty compacted header.
        if batch.records_count() <= 0 {
            return Ok(Decision::Drop {
                next_source_offset,
                reason: DropReason::Empty,
            });
        }
        // Rule 6: aborted transaction.
        if cfg.read_committed
            && batch.is_transactional()
            && self.aborted_pids.contains(&batch.producer_id())
        {
            return Ok(Decision::Drop {
                next_source_offset,
                reason: DropReason::Aborted,
            });
        }
        let codec = batch.compression()?;
        let want_codec = cfg.target_compression.unwrap_or(codec);
        let straddles = batch.base_offset() < next;
        let contiguous = batch.is_contiguous();
        let too_big = batch.size() > cfg.max_batch_bytes;
        if !straddles && contiguous && !too_big && want_codec == codec {
            // Rule 11: pass through (header rewrite happens at produce time).
            return Ok(Decision::Forward(vec![Outgoing {
                first_source_offset: batch.base_offset(),
                last_source_offset: batch.last_offset(),
                next_source_offset,
                source_offsets: None,
                batch,
                path: Path::PassThrough,
            }]));
        }
        // Rules 7-9 and codec change: decode and rebuild.
        let path = if straddles {
            Path::Trimmed
        } else if !contiguous {
            Path::Renumbered
        } else if too_big {
            Path::Split
        } else {
            Path::Recompressed
        };
        let recs: Vec<Record> = records::decode(&batch)?
            .into_iter()
            .filter(|r| r.offset >= next)
            .collect();
        if recs.is_empty() {
            return Ok(Decision::Drop {
                next_source_offset,
                reason: DropReason::AlreadyForwarded,
            });
        }
        rebuild(recs, want_codec, cfg, next_source_offset, path)
    }
}

/// Builds one or more v2 batches from records, each under the size limit.
fn rebuild(
    recs: Vec<Record>,
    codec: Compression,
    cfg: &ClassifyConfig,
    next_source_offset: i64,
    path: Path,
) -> Result<Decision, BatchError> {
    let mut out = Vec::new();
    let mut chunk: Vec<Record> = Vec::new();
    let mut est = 61usize;
    let budget = cfg.max_batch_bytes.saturating_sub(64).max(1);
    let flush = |chunk: &mut Vec<Record>, out: &mut Vec<Outgoing>| -> Result<(), BatchError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let mut b = BatchBuilder::new(codec);
        let offsets: Vec<i64> = chunk.iter().map(|r| r.offset).collect();
        for r in chunk.drain(..) {
            b.push(r);
        }
        let batch = RecordBatch::new(b.build()?)?;
        let first = offsets[0];
        let last = offsets[offsets.len() - 1];
        let contiguous = offsets.windows(2).all(|w| w[1] == w[0] + 1);
        out.push(Outgoing {
            batch,
            first_source_offset: first,
            last_source_offset: last,
            next_source_offset: last + 1,
            source_offsets: (!contiguous).then_some(offsets),
            path,
        });
        Ok(())
    };
    for r in recs {
        let size = 21
            + r.key.as_ref().map_or(0, Bytes::len)
            + r.value.as_ref().map_or(0, Bytes::len)
            + r.headers
                .iter()
                .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
                .sum::<usize>();
        if est + size > budget && !chunk.is_empty() {
            flush(&mut chunk, &mut out)?;
            est = 61;
        }
        est += size;
        chunk.push(r);
    }
    flush(&mut chunk, &mut out)?;
    if let Some(last) = out.last_mut() {
        // Skipped slots after the last record (compaction) still advance the position.
        last.next_source_offset = last.next_source_offset.max(next_source_offset);
    }
    Ok(Decision::Forward(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmirror_protocol::batch::batches;
    use kmirror_protocol::batch::header::{CONTROL_BIT, TRANSACTIONAL_BIT};
    use kmirror_protocol::batch::legacy::encode_message;

    fn batch(base: i64, n: usize, codec: Compression) -> RawBatch {
        let mut b = BatchBuilder::new(codec);
        b.base_offset(base);
        for i in 0..n {
            b.push(Record::new(
                Some(format!("k{i}").as_bytes()),
                Some(b"v"),
                1000 + i as i64,
            ));
        }
        RawBatch::V2(RecordBatch::new(b.build().unwrap()).unwrap())
    }

    fn forward(d: Decision) -> Vec<Outgoing> {
        match d {
            Decision::Forward(v) => v,
            Decision::Drop { reason, .. } => panic!("dropped: {reason:?}"),
        }
    }

    #[test]
    fn plain_batch_passes_through_without_copy() {
        let raw = batch(10, 3, Compression::Lz4);
        let RawBatch::V2(src) = &raw else {
            unreachable!()
        };
        let ptr = src.as_bytes().as_ptr();
        let mut s = ClassifyState::new(10);
        let out = forward(s.classify(raw, &ClassifyConfig::default()).unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, Path::PassThrough);
        assert_eq!(out[0].batch.as_bytes().as_ptr(), ptr);
        assert_eq!(
            (out[0].first_source_offset, out[0].last_source_offset),
            (10, 12)
        );
        assert_eq!(s.next_source_offset, 13);
    }

    #[test]
    fn batch_below_position_is_dropped() {
        let mut s = ClassifyState::new(20);
        let d = s
            .classify(batch(10, 3, Compression::None), &ClassifyConfig::default())
            .unwrap();
        assert!(matches!(
            d,
            Decision::Drop {
                reason: DropReason::AlreadyForwarded,
                ..
            }
        ));
        assert_eq!(s.next_source_offset, 20);
    }

    #[test]
    fn straddling_batch_is_trimmed_to_the_position() {
        let mut s = ClassifyState::new(11);
        let out = forward(
            s.classify(batch(10, 3, Compression::Zstd), &ClassifyConfig::default())
                .unwrap(),
        );
        assert_eq!(out[0].path, Path::Trimmed);
        assert_eq!(out[0].batch.records_count(), 2);
        assert_eq!(out[0].first_source_offset, 11);
        assert_eq!(out[0].batch.compression().unwrap(), Compression::Zstd);
    }

    #[test]
    fn compacted_batch_is_renumbered_and_keeps_source_offsets() {
        // Build a 3-record batch, then fake compaction: LastOffsetDelta 4 with
        // records at deltas 0, 2, 4 (the cleaner keeps original deltas).
        let mut recs = Vec::new();
        for (i, d) in [0i64, 2, 4].iter().enumerate() {
            let mut r = Record::new(Some(format!("k{i}").as_bytes()), Some(b"v"), 5);
            r.offset = 100 + d;
            recs.push(r);
        }
        let bytes = compacted_batch(100, &recs, 4);
        let raw = batches(bytes).next().unwrap().unwrap();
        let mut s = ClassifyState::new(100);
        let out = forward(s.classify(raw, &ClassifyConfig::default()).unwrap());
        assert_eq!(out[0].path, Path::Renumbered);
        assert!(out[0].batch.is_contiguous());
        assert_eq!(out[0].source_offsets.as_deref(), Some(&[100, 102, 104][..]));
        assert_eq!(s.next_source_offset, 105);
    }

    /// A batch whose records keep gaps in their offset deltas (uncompressed).
    fn compacted_batch(base: i64, recs: &[Record], last_delta: i32) -> Bytes {
        // Encode records by hand with their original deltas.
        let mut b = BatchBuilder::new(Compression::None);
        for r in recs {
            b.push(r.clone());
        }
        let built = b.build().unwrap();
        // Re-encode the records section with the real deltas.
        let mut body = Vec::new();
        for r in recs {
            let mut rec = vec![0u8];
            put_zigzag(&mut rec, 0);
            put_zigzag(&mut rec, r.offset - base);
            for f in [&r.key, &r.value] {
                match f {
                    Some(v) => {
                        put_zigzag(&mut rec, v.len() as i64);
                        rec.extend_from_slice(v);
                    }
                    None => put_zigzag(&mut rec, -1),
                }
            }
            put_zigzag(&mut rec, 0);
            put_zigzag(&mut body, rec.len() as i64);
            body.extend_from_slice(&rec);
        }
        let mut out = built[..61].to_vec();
        out[0..8].copy_from_slice(&base.to_be_bytes());
        out[23..27].copy_from_slice(&last_delta.to_be_bytes());
        out.extend_from_slice(&body);
        let len = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&out[21..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(out)
    }

    fn put_zigzag(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    #[test]
    fn control_and_aborted_batches_are_dropped_under_read_committed() {
        let pid = 77;
        let mut b = BatchBuilder::new(Compression::None);
        b.base_offset(0)
            .producer(pid, 0, 0)
            .extra_attributes(TRANSACTIONAL_BIT);
        b.push(Record::new(Some(b"k"), Some(b"v"), 1));
        let data = RawBatch::V2(RecordBatch::new(b.build().unwrap()).unwrap());
        let mut c = BatchBuilder::new(Compression::None);
        c.base_offset(1)
            .producer(pid, 0, -1)
            .extra_attributes(TRANSACTIONAL_BIT | CONTROL_BIT);
        c.push(Record::new(
            Some(&[0, 0, 0, 0]),
            Some(&[0, 0, 0, 0, 0, 0]),
            2,
        ));
        let marker = RawBatch::V2(RecordBatch::new(c.build().unwrap()).unwrap());
        let mut s = ClassifyState::new(0);
        s.add_aborted(&[AbortedTransaction {
            producer_id: pid,
            first_offset: 0,
        }]);
        let cfg = ClassifyConfig::default();
        assert!(matches!(
            s.classify(data.clone(), &cfg).unwrap(),
            Decision::Drop {
                reason: DropReason::Aborted,
                ..
            }
        ));
        assert!(matches!(
            s.classify(marker, &cfg).unwrap(),
            Decision::Drop {
                reason: DropReason::Control,
                ..
            }
        ));
        assert_eq!(s.next_source_offset, 2);
        assert!(
            s.aborted_pids.is_empty(),
            "ABORT marker ends the aborted transaction"
        );
        // Without the aborted list (committed transaction) the data passes.
        let mut s = ClassifyState::new(0);
        assert!(matches!(
            s.classify(data, &cfg).unwrap(),
            Decision::Forward(_)
        ));
    }

    #[test]
    fn legacy_messages_are_up_converted() {
        let mut blob = encode_message(5, 1, 1234, Some(b"k"), Some(b"v")).to_vec();
        blob.extend_from_slice(&encode_message(6, 1, 1235, Some(b"k2"), Some(b"v2")));
        let mut s = ClassifyState::new(5);
        let mut out = Vec::new();
        for raw in batches(Bytes::from(blob)) {
            out.extend(forward(
                s.classify(raw.unwrap(), &ClassifyConfig::default())
                    .unwrap(),
            ));
        }
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|o| o.path == Path::UpConverted));
        assert_eq!(out[1].last_source_offset, 6);
        assert_eq!(s.next_source_offset, 7);
    }

    #[test]
    fn oversized_batch_is_split_under_the_limit() {
        let raw = batch(0, 50, Compression::None);
        let cfg = ClassifyConfig {
            max_batch_bytes: 300,
            ..ClassifyConfig::default()
        };
        let mut s = ClassifyState::new(0);
        let out = forward(s.classify(raw, &cfg).unwrap());
        assert!(out.len() > 1);
        assert!(
            out.iter()
                .all(|o| o.batch.size() <= 300 && o.path == Path::Split)
        );
        let total: i32 = out.iter().map(|o| o.batch.records_count()).sum();
        assert_eq!(total, 50);
        assert_eq!(out.last().unwrap().last_source_offset, 49);
    }

    #[test]
    fn codec_change_recompresses() {
        let cfg = ClassifyConfig {
            target_compression: Some(Compression::Gzip),
            ..ClassifyConfig::default()
        };
        let mut s = ClassifyState::new(0);
        let out = forward(s.classify(batch(0, 5, Compression::Lz4), &cfg).unwrap());
        assert_eq!(out[0].path, Path::Recompressed);
        assert_eq!(out[0].batch.compression().unwrap(), Compression::Gzip);
    }
}
