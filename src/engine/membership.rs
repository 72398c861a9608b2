//! Scale-out membership of one flow: joins the flow's group on the target's
//! coordinator, runs the assignor when leader, heartbeats, publishes grants.
//!
//! A member keeps its partitions through a rebalance (cooperative, KIP-429):
//! on REBALANCE_IN_PROGRESS it re-joins at once, and the coordinator cannot
//! finish the rebalance without it before `rebalance.timeout.ms`, so it stops
//! them all only if that JoinGroup is still pending after
//! `rebalance.timeout.ms - heartbeat.interval.ms`. It stops them all at once on
//! ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID, or once `session.timeout.ms -
//! heartbeat.interval.ms` passed without a successful heartbeat, since by then
//! the group may have moved them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kmirror_protocol::client::Client;
use kmirror_protocol::error::ResponseError;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::group::metadata::{PROTOCOL_TYPE, differing_config_keys};
use crate::group::{Assignment, MemberMetadata, assign, differing_keys};

/// A source topic-partition.
pub type Tp = (String, i32);

/// The assignor's name in JoinGroup.
const PROTOCOL_NAME: &str = "sticky-load";

/// Group timing (Kafka's consumer keys and defaults, shortened for a replicator).
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// `kmirror.{source}->{target}`: never MM2's `{source}-mm2`.
    pub group_id: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// Time members get to re-join during a rebalance.
    pub rebalance_timeout: Duration,
    /// The leader's settings this process's plan was rebuilt with, if any
    /// (so it never rebuilds twice for the same leader).
    pub adopted_from: Option<BTreeMap<String, String>>,
    /// Per-key hashes of this process's own file for the flow, kept when the
    /// plan was rebuilt with the leader's settings (differences stay visible).
    pub file_config_keys: Option<BTreeMap<String, String>>,
    /// This process's own file settings ([`crate::group::adoptable_settings`]),
    /// kept likewise: a leader hands out its file's settings, never adopted ones.
    pub file_settings: Option<BTreeMap<String, String>>,
}

impl GroupSettings {
    /// Defaults for flow `source->target`.
    pub fn for_flow(source: &str, target: &str) -> Self {
        Self {
            group_id: format!("kmirror.{source}->{target}"),
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(30),
            adopted_from: None,
            file_config_keys: None,
            file_settings: None,
        }
    }
}

/// What this process tells the group (the engine keeps it current).
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// Partitions running here.
    pub owned: Vec<Tp>,
    /// Generation that granted them.
    pub generation: i32,
    /// Bytes/s per partition, including recently released ones.
    pub load: BTreeMap<Tp, f64>,
    /// Every partition the flow replicates (used when leader).
    pub universe: BTreeSet<Tp>,
    /// Hash of the effective flow settings, secrets excluded.
    pub fingerprint: String,
    /// Per-key hashes of those settings, to name the keys that differ.
    pub config_keys: BTreeMap<String, String>,
    /// This process's file settings that every member runs when it leads.
    pub settings: BTreeMap<String, String>,
}

/// What the group granted this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// Generation of the grant (-1 when none).
    pub generation: i32,
    /// Partitions to run.
    pub partitions: BTreeSet<Tp>,
    /// This process is the leader: it runs the once-per-flow work.
    pub leader: bool,
    /// Settings in which this process's file differs from the leader's.
    pub differs_from_leader: Vec<String>,
    /// The leader's settings, which this process must run.
    pub leader_settings: BTreeMap<String, String>,
}

impl Granted {
    fn nothing() -> Self {
        Self {
            generation: -1,
            ..Self::default()
        }
    }
}

fn metadata(local: &Local) -> Bytes {
    MemberMetadata {
        owned: local.owned.clone(),
        generation: local.generation,
        load: local.load.clone(),
        config_fingerprint: local.fingerprint.clone(),
        config_keys: local.config_keys.clone(),
        ..MemberMetadata::default()
    }
    .encode()
}

/// The leader's SyncGroup payload: every member's assignment.
fn leader_assignments(
    group: &str,
    generation: i32,
    leader: &str,
    members: &[(String, Bytes)],
    local: &Local,
) -> Vec<(String, Bytes)> {
    let mut decoded = BTreeMap::new();
    for (id, bytes) in members {
        match MemberMetadata::decode(bytes) {
            Ok(m) => {
                decoded.insert(id.clone(), m);
            }
            Err(e) => {
                tracing::warn!(group, member = %id, error = %e, "member metadata unreadable; it gets no partitions");
                decoded.insert(id.clone(), MemberMetadata::default());
            }
        }
    }
    let mine = decoded.get(leader).cloned().unwrap_or_default();
    for (id, m) in &decoded {
        if id != leader && m.config_fingerprint != mine.config_fingerprint {
            tracing::warn!(
                group, member = %id, keys = %differing_keys(&mine, m).join(", "),
                "members' configuration files differ for this flow; the leader's file wins: every member runs the leader's settings (connection settings and secrets stay each member's own)"
            );
        }
    }
    let plan = assign(&local.universe, &decoded);
    tracing::info!(
        group,
        generation,
        members = decoded.len(),
        held_back = plan.held_back.len(),
        "assigned partitions"
    );
    plan.to_assignments(generation, leader)
        .into_iter()
        .map(|(id, mut a)| {
            a.leader_config_keys = local.config_keys.clone();
            a.leader_settings = local.settings.clone();
            (id, a.encode())
        })
        .collect()
}

/// Runs membership until `cancel`; leaves the group on the way out.
pub async fn run(
    target: Client,
    settings: GroupSettings,
    local: watch::Receiver<Local>,
    rejoin: Arc<Notify>,
    out: watch::Sender<Granted>,
    cancel: CancellationToken,
) {
    let group = settings.group_id.as_str();
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let grace = settings
        .session_timeout
        .saturating_sub(settings.heartbeat_interval);
    // A pending JoinGroup keeps the member alive; the rebalance it joins
    // started after the last successful heartbeat and cannot complete
    // without it before rebalance.timeout.ms.
    let join_grace = grace.max(
        settings
            .rebalance_timeout
            .saturating_sub(settings.heartbeat_interval),
    );
    let mut member_id = String::new();
    let mut last_ok = Instant::now();
    let stop_all = |out: &watch::Sender<Granted>| {
        if !out.borrow().partitions.is_empty() {
            tracing::warn!(
                group,
                "no word from the group coordinator within session.timeout.ms - heartbeat.interval.ms, or fenced: stopping every partition"
            );
        }
        out.send_replace(Granted::nothing());
    };
    'join: loop {
        if cancel.is_cancelled() {
            break;
        }
        let meta = metadata(&local.borrow());
        let protocols = [(PROTOCOL_NAME.to_owned(), meta)];
        let join_id = member_id.clone();
        let join = target.join_group(
            group,
            &join_id,
            PROTOCOL_TYPE,
            &protocols,
            ms(settings.session_timeout),
            ms(settings.rebalance_timeout),
        );
        tokio::pin!(join);
        let mut stopped = false;
        let joined = loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'join,
                r = &mut join => break r,
                _ = tokio::time::sleep_until(last_ok + join_grace), if !stopped => {
                    stop_all(&out);
                    stopped = true;
                }
            }
        };
        let j = match joined {
            Ok(j) => j,
            Err(e) => {
                if e.code() == Some(ResponseError::UnknownMemberId) {
                    member_id.clear();
                }
                tracing::warn!(group, error = %e, "joining the group failed; retrying");
                if last_ok.elapsed() > grace {
                    stop_all(&out);
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        member_id = j.member_id.clone();
        let assignments = if j.is_leader() {
            leader_assignments(
                group,
                j.generation_id,
                &member_id,
                &j.members,
                &local.borrow(),
            )
        } else {
            Vec::new()
        };
        let synced = target
            .sync_group(
                group,
                j.generation_id,
                &member_id,
                PROTOCOL_TYPE,
                &j.protocol_name,
                &assignments,
            )
            .await;
        let bytes = match synced {
            Ok(b) => b,
            Err(e) => {
                match e.code() {
                    Some(ResponseError::RebalanceInProgress) => {}
                    Some(ResponseError::UnknownMemberId) => {
                        member_id.clear();
                        stop_all(&out);
                    }
                    Some(ResponseError::IllegalGeneration) => stop_all(&out),
                    _ => tracing::warn!(group, error = %e, "group sync failed; re-joining"),
                }
                continue;
            }
        };
        last_ok = Instant::now();
        let granted = if bytes.is_empty() {
            Granted {
                generation: j.generation_id,
                leader: j.is_leader(),
                ..Granted::default()
            }
        } else {
            match Assignment::decode(&bytes) {
                Ok(a) => {
                    let differs =
                        differing_config_keys(&local.borrow().config_keys, &a.leader_config_keys);
                    if !differs.is_empty() && out.borrow().differs_from_leader != differs {
                        tracing::warn!(
                            group, keys = %differs.join(", "),
                            "this process's configuration file differs from the group leader's for this flow; the leader's file wins: this process runs the leader's settings (its own connection settings and secrets excepted)"
                        );
                    }
                    Granted {
                        generation: a.generation,
                        partitions: a.partitions.into_iter().collect(),
                        leader: j.is_leader(),
                        differs_from_leader: differs,
                        leader_settings: a.leader_settings,
                    }
                }
                Err(e) => {
                    tracing::error!(group, error = %e, "assignment unreadable (a member of another kmirror version leads?); running nothing");
                    Granted {
                        generation: j.generation_id,
                        leader: j.is_leader(),
                        ..Granted::default()
                    }
                }
            }
        };
        tracing::info!(
            group,
            generation = granted.generation,
            leader = granted.leader,
            partitions = granted.partitions.len(),
            "joined"
        );
        out.send_replace(granted);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'join,
                _ = rejoin.notified() => continue 'join,
                _ = tokio::time::sleep(settings.heartbeat_interval) => {}
            }
            let beat = tokio::time::timeout(
                settings.heartbeat_interval,
                target.heartbeat(group, j.generation_id, &member_id),
            )
            .await;
            match beat {
                Ok(Ok(())) => last_ok = Instant::now(),
                Ok(Err(e)) => match e.code() {
                    Some(ResponseError::RebalanceInProgress) => {
                        last_ok = Instant::now();
                        continue 'join;
                    }
                    Some(ResponseError::UnknownMemberId) => {
                        member_id.clear();
                        stop_all(&out);
                        continue 'join;
                    }
                    Some(ResponseError::IllegalGeneration | ResponseError::FencedInstanceId) => {
                        stop_all(&out);
                        continue 'join;
                    }
                    _ => tracing::debug!(group, error = %e, "heartbeat failed"),
                },
                Err(_) => tracing::debug!(group, "heartbeat timed out"),
            }
            if last_ok.elapsed() > grace {
                stop_all(&out);
                continue 'join;
            }
        }
    }
    out.send_replace(Granted::nothing());
    if !member_id.is_empty() {
        // Leaving lets the others take over now, not after the session timeout.
        let leave = target.leave_group(group, &member_id);
        if let Err(e) = tokio::time::timeout(Duration::from_secs(2), leave)
            .await
            .unwrap_or(Ok(()))
        {
            tracing::warn!(group, error = %e, "leaving the group failed; the others take over after session.timeout.ms");
        }
    }
}
