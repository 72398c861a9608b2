//! Step 1 of the data path: one fetch loop per flow, one fetch session per
//! source broker, fetching only partitions whose buffers have room.
//!
//! Memory is bounded: a partition is fetched only while its unacknowledged
//! fetched bytes are under `partition_buffer_bytes` and the flow's under
//! `flow_buffer_bytes`, so at most one fetch response more is ever held.
//!
//! # References
//! - `zero-copy-forwarding.md` §4.2 (truncated tail), §4.4 (sessions), §6.1.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kmirror_protocol::batch::{RawBatch, batches};
use kmirror_protocol::client::Client;
use kmirror_protocol::client::api::fetch::{
    AbortedTransaction, FetchPosition, FetchSession, FetchedPartition, IsolationLevel,
};
use kmirror_protocol::error::ResponseError;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::progress::Tp;

/// Whole batches fetched for one partition, in offset order.
#[derive(Debug)]
pub struct Chunk {
    /// The batches (slices of the fetch response).
    pub batches: Vec<RawBatch>,
    /// Aborted transactions listed with them (read_committed).
    pub aborted: Vec<AbortedTransaction>,
    /// Bytes this chunk holds in the flow's budget.
    pub bytes: usize,
    /// Source high watermark when fetched (for lag).
    pub high_watermark: i64,
}

/// Fetch settings, from the source consumer keys.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `isolation.level`.
    pub isolation: IsolationLevel,
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
    /// Unacknowledged bytes allowed per partition.
    pub partition_buffer_bytes: usize,
    /// Unacknowledged bytes allowed per flow.
    pub flow_buffer_bytes: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            isolation: IsolationLevel::ReadCommitted,
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            partition_max_bytes: 1_048_576,
            partition_buffer_bytes: 4 * 1_048_576,
            flow_buffer_bytes: 64 * 1_048_576,
        }
    }
}

/// Longest wait of a fetch round while some partitions wait for buffer room.
const HELD_BACK_MAX_WAIT: Duration = Duration::from_millis(10);

/// A partition the fetcher serves.
#[derive(Debug)]
pub struct Slot {
    /// Source topic-partition.
    pub tp: Tp,
    /// Next offset to fetch.
    pub next_fetch: i64,
    /// Where chunks go (the partition's forwarding loop).
    pub tx: mpsc::Sender<Chunk>,
    /// Fetched bytes the partition has not yet acknowledged.
    pub buffered: Arc<AtomicUsize>,
    /// Not fetched before this instant (after an out-of-range answer).
    pub paused_until: Option<tokio::time::Instant>,
}

/// Handle to add partitions to a running fetcher.
#[derive(Debug, Clone)]
pub struct FetcherHandle {
    /// Channel to the fetch loop.
    tx: mpsc::UnboundedSender<Slot>,
}

impl FetcherHandle {
    /// Starts fetching a partition.
    pub fn add(&self, slot: Slot) {
        let _ = self.tx.send(slot);
    }
}

/// The fetch loop of one flow.
#[derive(Debug)]
pub struct Fetcher {
    /// Source cluster.
    client: Client,
    /// Settings.
    config: FetchConfig,
    /// Partitions served.
    slots: BTreeMap<Tp, Slot>,
    /// Sessions by broker id.
    sessions: HashMap<i32, FetchSession>,
    /// New partitions.
    rx: mpsc::UnboundedReceiver<Slot>,
    /// Flow-wide unacknowledged bytes.
    total: Arc<AtomicUsize>,
    /// Woken when a position falls outside the source log.
    out_of_range: Arc<Notify>,
}

impl Fetcher {
    /// A fetcher and the handle to feed it.
    pub fn new(
        client: Client,
        config: FetchConfig,
        total: Arc<AtomicUsize>,
        out_of_range: Arc<Notify>,
    ) -> (Self, FetcherHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                client,
                config,
                slots: BTreeMap::new(),
                sessions: HashMap::new(),
                rx,
                total,
                out_of_range,
            },
            FetcherHandle { tx },
        )
    }

    /// Fetches until `cancel`.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            while let Ok(s) = self.rx.try_recv() {
                self.slots.insert(s.tp.clone(), s);
            }
            if cancel.is_cancelled() {
                return;
            }
            self.slots.retain(|_, s| !s.tx.is_closed());
            let (by_broker, held_back) = self.eligible().await;
            // A long poll is for partitions that are caught up. While others
            // wait for buffer room, a round must come back soon, or they
            // would wait out fetch.max.wait.ms once their room frees up.
            let max_wait = if held_back {
                self.config.max_wait.min(HELD_BACK_MAX_WAIT)
            } else {
                self.config.max_wait
            };
            if by_broker.is_empty() {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    s = self.rx.recv() => if let Some(s) = s { self.slots.insert(s.tp.clone(), s); },
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                continue;
            }
            let mut round = Vec::new();
            for (broker, wanted) in by_broker {
                let mut session = self.sessions.remove(&broker).unwrap_or_else(|| {
                    let mut s =
                        FetchSession::new(self.client.clone(), broker, self.config.isolation);
                    s.max_wait = self.config.max_wait;
                    s.min_bytes = self.config.min_bytes;
                    s.max_bytes = self.config.max_bytes;
                    s
                });
                session.max_wait = max_wait;
                round.push(async move {
                    let started = tokio::time::Instant::now();
                    let r = session.fetch(&wanted).await;
                    tracing::trace!(
                        broker,
                        partitions = wanted.len(),
                        max_wait_ms = max_wait.as_millis() as u64,
                        took_ms = started.elapsed().as_millis() as u64,
                        bytes = r
                            .as_ref()
                            .map_or(0, |ps| ps.iter().map(|p| p.records.len()).sum::<usize>()),
                        "fetch round"
                    );
                    (session, wanted, r)
                });
            }
            let long_poll = max_wait > HELD_BACK_MAX_WAIT;
            let results = tokio::select! {
                _ = cancel.cancelled() => return,
                r = futures_util::future::join_all(round) => r,
                // A partition that starts while caught-up ones long-poll is
                // not kept waiting fetch.max.wait.ms: the round is dropped
                // (its sessions with it; the next round opens new ones).
                s = self.rx.recv(), if long_poll => {
                    let Some(s) = s else { return };
                    self.slots.insert(s.tp.clone(), s);
                    continue;
                }
            };
            for (mut session, wanted, r) in results {
                match r {
                    Ok(parts) => {
                        for p in parts {
                            self.handle(p).await;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(broker = session.broker(), error = %e, "fetch failed; retrying");
                        session.reset();
                        if e.needs_metadata_refresh() {
                            for w in &wanted {
                                self.client.invalidate_topic(&w.topic);
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                self.sessions.insert(session.broker(), session);
            }
        }
    }

    /// Partitions with buffer room, grouped by their leader, and whether any
    /// partition was left out for want of buffer room.
    async fn eligible(&self) -> (BTreeMap<i32, Vec<FetchPosition>>, bool) {
        let mut out: BTreeMap<i32, Vec<FetchPosition>> = BTreeMap::new();
        if self.total.load(Ordering::Relaxed) >= self.config.flow_buffer_bytes {
            return (out, true);
        }
        let mut held_back = false;
        for s in self.slots.values() {
            if s.buffered.load(Ordering::Relaxed) >= self.config.partition_buffer_bytes
                || s.tx.capacity() == 0
            {
                held_back = true;
                continue;
            }
            if s.paused_until
                .is_some_and(|t| t > tokio::time::Instant::now())
            {
                continue;
            }
            let Ok(leader) = self.client.leader(&s.tp.0, s.tp.1).await else {
                continue;
            };
            out.entry(leader).or_default().push(FetchPosition {
                topic: s.tp.0.clone(),
                partition: s.tp.1,
                fetch_offset: s.next_fetch,
                partition_max_bytes: self.config.partition_max_bytes,
            });
        }
        (out, held_back)
    }

    async fn handle(&mut self, p: FetchedPartition) {
        let tp = (p.topic.clone(), p.partition);
        let Some(slot) = self.slots.get_mut(&tp) else {
            return;
        };
        if let Some(e) = p.error {
            if e.code() == Some(ResponseError::OffsetOutOfRange) {
                // Decided from ListOffsets and topic ids by the engine's
                // integrity check, never from this error alone.
                tracing::warn!(topic = %tp.0, partition = tp.1, offset = slot.next_fetch, "fetch position out of range; checking the source log");
                slot.paused_until = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                self.out_of_range.notify_one();
            } else {
                if e.needs_metadata_refresh() {
                    self.client.invalidate_topic(&tp.0);
                }
                tracing::debug!(topic = %tp.0, partition = tp.1, error = %e, "partition fetch error");
            }
            return;
        }
        let bytes = p.records.len();
        let mut out = Vec::new();
        let mut it = batches(p.records);
        for b in it.by_ref() {
            match b {
                Ok(b) => {
                    slot.next_fetch = slot.next_fetch.max(b.last_offset() + 1);
                    out.push(b);
                }
                Err(e) => {
                    // Nothing after a malformed entry can be trusted: hand over
                    // what was whole and fetch again from there.
                    tracing::error!(topic = %tp.0, partition = tp.1, offset = slot.next_fetch, error = %e, "malformed records from source; refetching");
                    break;
                }
            }
        }
        if out.is_empty() {
            if it.truncated_tail().is_some() && bytes > 0 {
                tracing::warn!(topic = %tp.0, partition = tp.1, bytes, "first batch larger than max.partition.fetch.bytes");
            }
            return;
        }
        slot.buffered.fetch_add(bytes, Ordering::Relaxed);
        self.total.fetch_add(bytes, Ordering::Relaxed);
        let chunk = Chunk {
            batches: out,
            aborted: p.aborted,
            bytes,
            high_watermark: p.high_watermark,
        };
        if slot.tx.try_send(chunk).is_err() {
            // Channel closed or full (checked before fetching): forget the bytes.
            slot.buffered.fetch_sub(bytes, Ordering::Relaxed);
            self.total.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}
