//! THE DATA PATH, read top to bottom: fetch → classify → rewrite → produce.
//!
//! ```text
//!  source leader ──Fetch(session)──▶ fetch.rs ──records blob──▶ batch::batches (split, no copy)
//!                                                                   │
//!                                      classify.rs ◀────────────────┘
//!                        pass-through │ rebuild (legacy, trim, renumber, split, codec)
//!                                     ▼
//!  target leader ◀──Produce(vectored)── produce.rs: header rewrite with our producer
//!                                     │             id/epoch/sequence + CRC (batch::rewrite)
//!                                     ▼
//!                        progress.rs: positions saved on the target; offset syncs emitted
//! ```
//!
//! A batch that can pass through is never decompressed or copied: the fetch
//! response's bytes are sliced, a new 61-byte header is written beside them,
//! and both go to the socket as separate buffers.

pub mod classify;
pub mod fetch;
pub mod produce;
pub mod progress;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use classify::{ClassifyConfig, ClassifyState, Decision, DropReason, Path};
use kmirror_protocol::batch::RawBatch;

use crate::metrics::{Metrics, PartitionLabels};
use fetch::Chunk;
use produce::{Completed, ForwardError, PartitionProducer};
use progress::{ProgressHub, Tp};

/// Counters of one flow, readable while it runs (logs, status, metrics).
#[derive(Debug, Default)]
pub struct FlowStats {
    /// Records acknowledged by the target.
    pub records: AtomicU64,
    /// Batch bytes acknowledged by the target.
    pub bytes: AtomicU64,
    /// Batches forwarded untouched (header rewrite only).
    pub batches_passed: AtomicU64,
    /// Batches that had to be decoded and rebuilt.
    pub batches_rebuilt: AtomicU64,
    /// Batches not forwarded (control, aborted, empty, already forwarded).
    pub batches_dropped: AtomicU64,
    /// Records sent again after a producer reset (possible duplicates).
    pub possible_duplicates: AtomicU64,
    /// Per partition: source high watermark minus acknowledged position.
    pub lag: std::sync::Mutex<std::collections::BTreeMap<Tp, i64>>,
}

impl FlowStats {
    /// Total lag in records over all partitions.
    pub fn total_lag(&self) -> i64 {
        self.lag.lock().map(|l| l.values().sum()).unwrap_or(0)
    }
}

/// The per-partition loop: take fetched chunks, classify, produce, and hand
/// acknowledgements in source order to the progress hub.
#[derive(Debug)]
pub struct PartitionFlow {
    /// Source topic-partition.
    pub tp: Tp,
    /// Classification state (position, aborted transactions).
    pub state: ClassifyState,
    /// Classification settings.
    pub config: ClassifyConfig,
    /// Producer for the remote partition.
    pub producer: PartitionProducer,
    /// Progress and offset syncs.
    pub hub: Arc<ProgressHub>,
    /// Chunks from the fetcher.
    pub rx: mpsc::Receiver<Chunk>,
    /// This partition's unacknowledged fetched bytes.
    pub buffered: Arc<AtomicUsize>,
    /// The flow's unacknowledged fetched bytes.
    pub total: Arc<AtomicUsize>,
    /// Flow counters.
    pub stats: Arc<FlowStats>,
    /// Last source high watermark seen.
    pub high_watermark: i64,
    /// Metric labels of the remote partition.
    pub labels: PartitionLabels,
    /// Next source offset acknowledged by the target.
    pub acked: i64,
    /// Where metric events go.
    pub metrics: Arc<Metrics>,
}

/// Metric `path` and `reason` labels of a forwarded batch.
fn path_labels(p: Path) -> (&'static str, &'static str) {
    match p {
        Path::PassThrough => ("passthrough", ""),
        Path::UpConverted => ("rebuilt", "legacy_magic"),
        Path::Renumbered => ("rebuilt", "compacted"),
        Path::Trimmed => ("rebuilt", "straddles_start"),
        Path::Split => ("rebuilt", "too_large"),
        Path::Recompressed => ("rebuilt", "codec_change"),
        Path::Coalesced => ("rebuilt", "coalesced"),
    }
}

impl PartitionFlow {
    /// Runs until `cancel`, then finishes in-flight produces before returning.
    /// Returns the next source offset acknowledged.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<i64, ForwardError> {
        let mut acked = self.state.next_source_offset;
        self.acked = acked;
        loop {
            tokio::select! {
                biased;
                done = self.producer.next(), if !self.producer.is_empty() => {
                    if let Some(done) = done {
                        acked = self.complete(done?);
                    }
                }
                chunk = self.rx.recv(), if self.producer.has_room() => match chunk {
                    Some(c) => self.forward(c).await?,
                    None => break,
                },
                _ = cancel.cancelled() => break,
            }
        }
        // Stop: no new chunks; let every in-flight produce finish.
        while let Some(done) = self.producer.next().await {
            acked = self.complete(done?);
        }
        Ok(acked)
    }

    async fn forward(&mut self, chunk: Chunk) -> Result<(), ForwardError> {
        self.state.add_aborted(&chunk.aborted);
        self.high_watermark = self.high_watermark.max(chunk.high_watermark);
        // Lag must rise even while nothing is acknowledged (target down).
        let oldest = self.producer.oldest_timestamp().or_else(|| {
            chunk.batches.iter().find_map(|b| match b {
                RawBatch::V2(v) if v.last_offset() >= self.state.next_source_offset => {
                    Some(v.base_timestamp().min(v.max_timestamp()))
                }
                _ => None,
            })
        });
        self.metrics
            .position(&self.labels, self.acked, self.high_watermark, oldest);
        let n = chunk.batches.len();
        let mut release = Some(chunk.bytes);
        for (i, raw) in chunk.batches.into_iter().enumerate() {
            let last = i + 1 == n;
            if let RawBatch::V2(b) = &raw
                && !b.is_control()
                && b.last_offset() >= self.state.next_source_offset
            {
                self.metrics.batch_fetched(
                    &self.labels,
                    b.records_count().max(0) as u64,
                    b.base_timestamp(),
                    b.max_timestamp(),
                );
            }
            let decision =
                self.state
                    .classify(raw, &self.config)
                    .map_err(|source| ForwardError::Batch {
                        topic: self.tp.0.clone(),
                        partition: self.tp.1,
                        source,
                    })?;
            match decision {
                Decision::Forward(outs) => {
                    let m = outs.len();
                    for (j, out) in outs.into_iter().enumerate() {
                        let counter = if out.path == Path::PassThrough {
                            &self.stats.batches_passed
                        } else {
                            &self.stats.batches_rebuilt
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        let rel = if last && j + 1 == m {
                            release.take().unwrap_or(0)
                        } else {
                            0
                        };
                        self.producer.push(out, rel).await?;
                    }
                }
                Decision::Drop {
                    next_source_offset,
                    reason,
                } => {
                    self.stats.batches_dropped.fetch_add(1, Ordering::Relaxed);
                    let why = match reason {
                        DropReason::AlreadyForwarded => "already_forwarded",
                        DropReason::Control => "control",
                        DropReason::Empty => "empty",
                        DropReason::Aborted => "aborted",
                    };
                    self.metrics.count_batch(
                        &self.labels.source,
                        &self.labels.target,
                        "dropped",
                        why,
                    );
                    tracing::trace!(?reason, next_source_offset, "batch dropped");
                    let rel = if last { release.take().unwrap_or(0) } else { 0 };
                    self.producer.skip(next_source_offset, rel);
                }
            }
        }
        if let Some(rel) = release {
            self.release(rel);
        }
        Ok(())
    }

    fn complete(&mut self, done: Completed) -> i64 {
        self.acked = done.next_source_offset;
        self.hub.completed(&self.tp, &done);
        if let Ok(mut lag) = self.stats.lag.lock() {
            // tansu 0.6.0 reports the last batch's base offset + 1 as the
            // high watermark, which can sit below our position: clamp at 0.
            lag.insert(
                self.tp.clone(),
                (self.high_watermark - done.next_source_offset).max(0),
            );
        }
        self.release(done.release_bytes);
        self.metrics.position(
            &self.labels,
            done.next_source_offset,
            self.high_watermark,
            self.producer.oldest_timestamp(),
        );
        if let Some(m) = &done.mapping {
            let (path, reason) = path_labels(m.path);
            self.metrics.batch_acked(
                &self.labels,
                &crate::metrics::AckedBatch {
                    records: m.records as u64,
                    bytes: m.bytes as u64,
                    base_timestamp: m.base_timestamp,
                    max_timestamp: m.max_timestamp,
                    path,
                    reason,
                },
            );
            self.stats
                .records
                .fetch_add(m.records as u64, Ordering::Relaxed);
            self.stats
                .bytes
                .fetch_add(m.bytes as u64, Ordering::Relaxed);
            if m.possible_duplicates {
                self.stats
                    .possible_duplicates
                    .fetch_add(m.records as u64, Ordering::Relaxed);
            }
        }
        done.next_source_offset
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.buffered.fetch_sub(bytes, Ordering::Relaxed);
            self.total.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}
