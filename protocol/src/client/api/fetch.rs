//! Fetch with incremental fetch sessions (KIP-227) and isolation level: one
//! `FetchSession` per source broker; records come back as zero-copy `Bytes`.
//!
//! # References
//! - `zero-copy-forwarding.md` §4.1-§4.4; KIP-227; KIP-74 (MaxBytes).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::client::cluster::check_code;
use crate::client::error::tp_name;
use crate::client::{Client, ClientError};
use crate::error::ResponseError;

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Everything, including aborted and open transactions.
    ReadUncommitted = 0,
    /// Up to the last stable offset; aborted transactions listed.
    ReadCommitted = 1,
}

/// One partition to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPosition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset wanted.
    pub fetch_offset: i64,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
}

/// An aborted transaction overlapping the returned range (read_committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer id of the transaction.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
}

/// What one partition returned.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The partition-level error, if any.
    pub error: Option<ClientError>,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset (-1 if unknown).
    pub last_stable_offset: i64,
    /// Log start offset (-1 if unknown).
    pub log_start_offset: i64,
    /// Aborted transactions (read_committed only).
    pub aborted: Vec<AbortedTransaction>,
    /// The records blob: a slice of the response frame, split with `batch::batches`.
    pub records: Bytes,
}

/// What the broker's session holds for one partition: (offset, max bytes).
type Held = (i64, i32);

/// KIP-227 session state with one broker, kept apart from I/O so the request
/// sequence can be checked without a broker.
///
/// States, as Java's `FetchSessionHandler`: no session `(0, 0)` (full
/// requests, the broker may create one); open `(id, epoch >= 1)` (incremental
/// requests: only partitions whose position changed, plus forgotten ones);
/// closing `(id, 0)` (a full request that makes the broker drop session `id`
/// and open a new one), entered after a transport error, a timeout, a
/// top-level error or INVALID_FETCH_SESSION_EPOCH; FETCH_SESSION_ID_NOT_FOUND
/// goes back to no session.
#[derive(Debug, Default, Clone)]
struct SessionState {
    /// Session id from the broker (0 = none).
    session_id: i32,
    /// Next epoch to send (0 = full request).
    epoch: i32,
    /// What the broker's session holds per partition.
    sent: HashMap<(String, i32), Held>,
}

/// One request planned from a [`SessionState`], and what it changes once
/// the broker accepts it.
#[derive(Debug)]
struct FetchPlan {
    /// Topics, partitions and session fields (the caller adds wait and sizes).
    request: FetchRequest,
    /// True when the request speaks sessions at all (Fetch v7+).
    sessions: bool,
    /// True when only changed partitions are in the request.
    incremental: bool,
    /// Partitions in the request with their positions.
    sent: Vec<((String, i32), Held)>,
    /// Partitions the request tells the broker to forget.
    forgotten: Vec<(String, i32)>,
}

/// How a response's top-level error code left the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionOutcome {
    /// Use the response.
    Ok,
    /// The broker lost or rejected our session (70/71): the response holds
    /// no data; the next request is a full one.
    Lost,
    /// Another top-level error; the next request is a full one.
    Error(i16),
}

impl SessionState {
    /// True when the next request may leave out unchanged partitions.
    fn incremental(&self) -> bool {
        self.session_id != 0 && self.epoch != 0
    }

    /// Plans the request for `wanted` (every partition the session follows).
    fn plan(&self, wanted: &[FetchPosition], sessions: bool) -> FetchPlan {
        let incremental = sessions && self.incremental();
        let mut by_topic: Vec<(String, Vec<&FetchPosition>)> = Vec::new();
        let mut sent = Vec::new();
        for w in wanted {
            let key = (w.topic.clone(), w.partition);
            let held = (w.fetch_offset, w.partition_max_bytes);
            if incremental && self.sent.get(&key) == Some(&held) {
                continue;
            }
            sent.push((key, held));
            match by_topic.iter_mut().find(|(t, _)| *t == w.topic) {
                Some((_, v)) => v.push(w),
                None => by_topic.push((w.topic.clone(), vec![w])),
            }
        }
        let mut forgotten: Vec<(String, i32)> = Vec::new();
        if incremental {
            forgotten = self
                .sent
                .keys()
                .filter(|(t, p)| !wanted.iter().any(|w| &w.topic == t && w.partition == *p))
                .cloned()
                .collect();
            forgotten.sort();
        }
        let topics = by_topic
            .iter()
            .map(|(t, ps)| {
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(t.clone())))
                    .with_partitions(
                        ps.iter()
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition(p.partition)
                                    .with_fetch_offset(p.fetch_offset)
                                    .with_partition_max_bytes(p.partition_max_bytes)
                                    .with_log_start_offset(-1)
                                    .with_current_leader_epoch(-1)
                            })
                            .collect(),
                    )
            })
            .collect();
        let mut request = FetchRequest::default().with_topics(topics);
        if sessions {
            let mut forgotten_topics: Vec<ForgottenTopic> = Vec::new();
            for (t, p) in &forgotten {
                match forgotten_topics
                    .iter_mut()
                    .find(|f| f.topic.0.as_str() == t)
                {
                    Some(f) => f.partitions.push(*p),
                    None => forgotten_topics.push(
                        ForgottenTopic::default()
                            .with_topic(TopicName(StrBytes::from_string(t.clone())))
                            .with_partitions(vec![*p]),
                    ),
                }
            }
            request = request
                .with_session_id(self.session_id)
                .with_session_epoch(self.epoch)
                .with_forgotten_topics_data(forgotten_topics);
        }
        FetchPlan {
            request,
            sessions,
            incremental,
            sent,
            forgotten,
        }
    }

    /// Applies the response's top-level error code and session id to the
    /// state after `plan` was answered.
    fn on_response(&mut self, plan: FetchPlan, error_code: i16, session_id: i32) -> SessionOutcome {
        if !plan.sessions {
            return match error_code {
                0 => SessionOutcome::Ok,
                code => SessionOutcome::Error(code),
            };
        }
        match ResponseError::try_from_code(error_code) {
            None => {}
            Some(ResponseError::FetchSessionIdNotFound) => {
                self.reset();
                return SessionOutcome::Lost;
            }
            Some(ResponseError::InvalidFetchSessionEpoch) => {
                self.close_existing();
                return SessionOutcome::Lost;
            }
            Some(_) => {
                self.close_existing();
                return SessionOutcome::Error(error_code);
            }
        }
        if session_id == 0 {
            // The broker keeps no session for us: every fetch stays full.
            self.reset();
            return SessionOutcome::Ok;
        }
        if !plan.incremental || self.session_id != session_id {
            self.sent.clear();
        }
        self.session_id = session_id;
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
        self.sent.extend(plan.sent);
        for key in &plan.forgotten {
            self.sent.remove(key);
        }
        SessionOutcome::Ok
    }

    /// A partition answered with an error: the broker may drop it from the
    /// session, so it is sent again next time.
    fn on_partition_error(&mut self, topic: &str, partition: i32) {
        self.sent.remove(&(topic.to_owned(), partition));
    }

    /// The request failed in transport or timed out: the broker may or may
    /// not have moved the epoch on, so close the session with a full request.
    fn on_transport_error(&mut self) {
        self.close_existing();
    }

    /// Next request is full and closes session `session_id` (epoch 0).
    fn close_existing(&mut self) {
        self.epoch = 0;
        self.sent.clear();
    }

    /// No session at all.
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Fetch-session state with one broker.
#[derive(Debug)]
pub struct FetchSession {
    /// Cluster client.
    client: Client,
    /// Broker id this session lives on.
    broker: i32,
    /// Isolation level of every request.
    isolation: IsolationLevel,
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// KIP-227 session.
    state: SessionState,
}

impl FetchSession {
    /// A session with broker `broker` (created on the first fetch).
    pub fn new(client: Client, broker: i32, isolation: IsolationLevel) -> Self {
        Self {
            client,
            broker,
            isolation,
            // Kafka consumer defaults.
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            state: SessionState::default(),
        }
    }

    /// Broker id.
    pub fn broker(&self) -> i32 {
        self.broker
    }

    /// The broker's session id (0 while there is none) and the epoch the
    /// next request carries (0 = a full request).
    pub fn session(&self) -> (i32, i32) {
        (self.state.session_id, self.state.epoch)
    }

    /// Drops session state so the next fetch is a full one.
    pub fn reset(&mut self) {
        self.state.reset();
    }

    /// Fetches `wanted` (all partitions this session should follow). With a
    /// session, only partitions whose position changed are sent and the
    /// response holds only partitions with news.
    pub async fn fetch(
        &mut self,
        wanted: &[FetchPosition],
    ) -> Result<Vec<FetchedPartition>, ClientError> {
        let conn = self.client.broker_conn(self.broker).await?;
        let version = conn.version_for(kafka_protocol::messages::ApiKey::Fetch)?;
        let mut plan = self.state.plan(wanted, version >= 7);
        let req = std::mem::take(&mut plan.request)
            .with_replica_id((-1).into())
            .with_max_wait_ms(self.max_wait.as_millis().min(i32::MAX as u128) as i32)
            .with_min_bytes(self.min_bytes)
            .with_max_bytes(self.max_bytes)
            .with_isolation_level(self.isolation as i8);
        let resp = match conn.send_version(version, &req).await {
            Ok(r) => r,
            Err(e) => {
                self.state.on_transport_error();
                return Err(e.into());
            }
        };
        let broker = conn.broker().to_owned();
        match self
            .state
            .on_response(plan, resp.error_code, resp.session_id)
        {
            SessionOutcome::Ok => {}
            SessionOutcome::Lost => {
                tracing::debug!(
                    broker,
                    code = resp.error_code,
                    "fetch session lost; next fetch is a full one"
                );
                return Ok(Vec::new());
            }
            SessionOutcome::Error(code) => {
                check_code::<FetchRequest>(code, &broker, || None, None)?;
            }
        }
        let mut out = Vec::new();
        for t in resp.responses {
            let topic = t.topic.0.as_str().to_owned();
            for p in t.partitions {
                let error = check_code::<FetchRequest>(
                    p.error_code,
                    &broker,
                    || Some(tp_name(&topic, p.partition_index)),
                    None,
                )
                .err();
                if error.is_some() {
                    self.state.on_partition_error(&topic, p.partition_index);
                }
                out.push(FetchedPartition {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    error,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    aborted: p
                        .aborted_transactions
                        .unwrap_or_default()
                        .iter()
                        .map(|a| AbortedTransaction {
                            producer_id: a.producer_id.0,
                            first_offset: a.first_offset,
                        })
                        .collect(),
                    records: p.records.unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(topic: &str, partition: i32, fetch_offset: i64) -> FetchPosition {
        FetchPosition {
            topic: topic.into(),
            partition,
            fetch_offset,
            partition_max_bytes: 1 << 20,
        }
    }

    /// (topic, partition, offset) of every partition in the request.
    fn parts(req: &FetchRequest) -> Vec<(String, i32, i64)> {
        req.topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.topic.0.as_str().to_owned(), p.partition, p.fetch_offset))
            })
            .collect()
    }

    fn forgotten(req: &FetchRequest) -> Vec<(String, Vec<i32>)> {
        req.forgotten_topics_data
            .iter()
            .map(|f| (f.topic.0.as_str().to_owned(), f.partitions.clone()))
            .collect()
    }

    fn session(req: &FetchRequest) -> (i32, i32) {
        (req.session_id, req.session_epoch)
    }

    /// Plans for `wanted`, lets the broker answer `(code, session id)`.
    fn round(
        s: &mut SessionState,
        wanted: &[FetchPosition],
        code: i16,
        id: i32,
    ) -> (FetchRequest, SessionOutcome) {
        let mut plan = s.plan(wanted, true);
        let req = std::mem::take(&mut plan.request);
        (req, s.on_response(plan, code, id))
    }

    #[test]
    fn full_then_incremental_requests_send_only_changes_and_forget_dropped_partitions() {
        let mut s = SessionState::default();
        let mut wanted = vec![pos("a", 0, 0), pos("a", 1, 0), pos("b", 0, 0)];
        // Full request creates the session.
        let (req, out) = round(&mut s, &wanted, 0, 77);
        assert_eq!(out, SessionOutcome::Ok);
        assert_eq!(session(&req), (0, 0));
        assert_eq!(parts(&req).len(), 3);
        assert!(forgotten(&req).is_empty());
        assert_eq!((s.session_id, s.epoch), (77, 1));
        // Only a-0 moved.
        wanted[0].fetch_offset = 5;
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, 1));
        assert_eq!(parts(&req), [("a".to_owned(), 0, 5)]);
        // Nothing moved: an empty incremental request, epoch still advances.
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, 2));
        assert!(parts(&req).is_empty());
        // A changed partition_max_bytes counts as a change.
        wanted[1].partition_max_bytes = 1024;
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(parts(&req), [("a".to_owned(), 1, 0)]);
        // b-0 no longer followed: forgotten, once.
        wanted.pop();
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, 4));
        assert!(parts(&req).is_empty());
        assert_eq!(forgotten(&req), [("b".to_owned(), vec![0])]);
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert!(forgotten(&req).is_empty());
        // Followed again: sent again.
        wanted.push(pos("b", 0, 9));
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(parts(&req), [("b".to_owned(), 0, 9)]);
        assert_eq!(session(&req), (77, 6));
        // The epoch wraps to 1, never 0 (which would mean a full request).
        s.epoch = i32::MAX;
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, i32::MAX));
        assert_eq!(s.epoch, 1);
    }

    #[test]
    fn lost_sessions_errors_and_transport_failures_fall_back_to_a_full_request() {
        let wanted = [pos("a", 0, 3), pos("a", 1, 4)];
        let open = |id| {
            let mut s = SessionState::default();
            round(&mut s, &wanted, 0, id);
            round(&mut s, &wanted, 0, id);
            assert_eq!((s.session_id, s.epoch), (id, 2));
            s
        };
        // FETCH_SESSION_ID_NOT_FOUND: no session, next request is (0, 0), full.
        let mut s = open(77);
        let (req, out) = round(&mut s, &wanted, 70, 0);
        assert_eq!(session(&req), (77, 2));
        assert_eq!(out, SessionOutcome::Lost);
        let (req, _) = round(&mut s, &wanted, 0, 78);
        assert_eq!(session(&req), (0, 0));
        assert_eq!(parts(&req).len(), 2);
        assert_eq!((s.session_id, s.epoch), (78, 1));
        // INVALID_FETCH_SESSION_EPOCH: a full request closing session 77 (epoch 0).
        let mut s = open(77);
        let (_, out) = round(&mut s, &wanted, 71, 0);
        assert_eq!(out, SessionOutcome::Lost);
        let (req, _) = round(&mut s, &wanted, 0, 79);
        assert_eq!(session(&req), (77, 0));
        assert_eq!(parts(&req).len(), 2, "full request after 71");
        assert!(forgotten(&req).is_empty());
        assert_eq!((s.session_id, s.epoch), (79, 1));
        // Transport error or timeout: the same.
        let mut s = open(77);
        let plan = s.plan(&wanted, true);
        assert!(plan.incremental);
        s.on_transport_error();
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, 0));
        assert_eq!(parts(&req).len(), 2, "full request after a transport error");
        // Any other top-level error (NOT_LEADER_OR_FOLLOWER here) too.
        let mut s = open(77);
        let (_, out) = round(&mut s, &wanted, 6, 0);
        assert_eq!(out, SessionOutcome::Error(6));
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(session(&req), (77, 0));
        // A partition error: that partition is sent again next time.
        let mut s = open(77);
        s.on_partition_error("a", 1);
        let (req, _) = round(&mut s, &wanted, 0, 77);
        assert_eq!(parts(&req), [("a".to_owned(), 1, 4)]);
    }

    #[test]
    fn brokers_without_sessions_get_full_requests_every_time() {
        let wanted = [pos("a", 0, 3)];
        // The broker answers session id 0: it keeps none.
        let mut s = SessionState::default();
        for _ in 0..3 {
            let (req, out) = round(&mut s, &wanted, 0, 0);
            assert_eq!(out, SessionOutcome::Ok);
            assert_eq!(session(&req), (0, 0));
            assert_eq!(parts(&req).len(), 1);
        }
        // Fetch v4-v6 has no session fields at all.
        let mut s = SessionState::default();
        let mut plan = s.plan(&wanted, false);
        let req = std::mem::take(&mut plan.request);
        assert!(!plan.incremental);
        assert_eq!(parts(&req).len(), 1);
        assert_eq!(s.on_response(plan, 0, 0), SessionOutcome::Ok);
        assert_eq!((s.session_id, s.epoch), (0, 0));
    }
}
