//! Wiring: turns a flow plan into running parts (fetcher, partition loops,
//! progress hub), discovers topics and partitions, creates remote topics, and
//! stops everything in order on shutdown.
//!
//! Shutdown order: stop fetching, let in-flight produces finish, save progress.

pub mod leaves;
pub mod membership;
pub mod plan;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kmirror_protocol::client::api::fetch::IsolationLevel;
use kmirror_protocol::client::api::offsets::OffsetSpec;
use kmirror_protocol::client::api::topics::NewTopic;
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::ResponseError;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::forward::classify::ClassifyState;
use crate::forward::fetch::{Fetcher, FetcherHandle, Slot};
use crate::forward::produce::{PartitionProducer, SharedProducerId};
use crate::forward::progress::{ProgressHub, Tp, load_progress};
use crate::forward::{FlowStats, PartitionFlow};
use crate::policy;
pub use plan::FlowPlan;

/// Errors that stop a flow from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A cluster could not be reached or refused an admin call.
    #[error("flow {flow}: {what}")]
    Cluster {
        /// `source->target`.
        flow: String,
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: ClientError,
    },
    /// The producer could not be set up.
    #[error("flow {flow}: cannot start the producer")]
    Producer {
        /// `source->target`.
        flow: String,
        /// Cause.
        #[source]
        source: crate::forward::produce::ForwardError,
    },
}

/// A running flow's shared parts.
struct Flow {
    plan: FlowPlan,
    source: Client,
    target: Client,
    hub: Arc<ProgressHub>,
    pid: Arc<SharedProducerId>,
    fetcher: FetcherHandle,
    total: Arc<AtomicUsize>,
    stats: Arc<FlowStats>,
    /// Source partitions running, by topic: partition count.
    running: BTreeMap<String, i32>,
    /// Saved progress read at start.
    saved: HashMap<Tp, i64>,
    /// Where each running partition started (its position until acks arrive).
    starts: HashMap<Tp, i64>,
    /// Stops one partition (for a restart at another offset).
    tokens: HashMap<Tp, CancellationToken>,
    /// Partitions being stopped, to start again at this offset once stopped.
    pending_restart: HashMap<Tp, i64>,
    /// Source topic ids seen, to notice a deleted and re-created topic.
    topic_ids: HashMap<String, [u8; 16]>,
    /// Last source end offset seen per partition (loss lower bound on re-creation).
    last_end: HashMap<Tp, i64>,
    /// Partitions whose task is running.
    live: HashSet<Tp>,
    /// Scale-out membership, when `scale.out.enabled`.
    group: Option<GroupState>,
    /// Remote topics whose grow failed (logged once until it succeeds).
    grow_failed: HashSet<String>,
}

/// The engine's side of scale-out: what the group granted and what is
/// being handed back.
#[derive(Debug)]
struct GroupState {
    /// What this process tells the group.
    local: watch::Sender<membership::Local>,
    /// Asks the membership task to re-join (new partitions, revocation done).
    rejoin: Arc<Notify>,
    /// Grants from the membership task.
    granted: watch::Receiver<membership::Granted>,
    /// The latest grant.
    current: membership::Granted,
    /// Revoked partitions still finishing their in-flight produces.
    revoking: HashSet<Tp>,
    /// Bytes acknowledged and time at the last load measurement, per partition.
    measured: HashMap<Tp, (i64, tokio::time::Instant)>,
    /// Stops the checkpoint work while this process was given it.
    checkpoints: Option<CancellationToken>,
}

impl Flow {
    fn name(&self) -> String {
        format!("{}->{}", self.plan.source_alias, self.plan.target_alias)
    }

    /// True when this process may run `tp` (always without scale-out).
    fn may_run(&self, tp: &Tp) -> bool {
        self.group
            .as_ref()
            .is_none_or(|g| g.current.partitions.contains(tp))
    }

    /// True when this process runs the once-per-flow work (always without scale-out).
    fn is_leader(&self) -> bool {
        self.group.as_ref().is_none_or(|g| g.current.leader)
    }
}

/// Connects a client with retries, so a cluster that is down at start-up is
/// waited for instead of failing the process.
pub async fn connect_with_retry(
    bootstrap: &[String],
    config: kmirror_protocol::client::ClientConfig,
    alias: &str,
    cancel: &CancellationToken,
) -> Option<Client> {
    let mut backoff = kmirror_protocol::client::backoff::Backoff::new(
        kmirror_protocol::client::backoff::BackoffConfig {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
        },
    );
    loop {
        match Client::connect(bootstrap.to_vec(), config.clone()).await {
            Ok(c) => return Some(c),
            Err(e) => {
                let why = error_chain(&e);
                match connect_hint(&why) {
                    Some(hint) => {
                        tracing::warn!(cluster = alias, error = %why, hint, "cannot reach cluster; retrying")
                    }
                    None => {
                        tracing::warn!(cluster = alias, error = %why, "cannot reach cluster; retrying")
                    }
                }
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}

/// An error and its causes on one line (`a: b: c`).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cur = s.source();
    }
    text
}

/// What an operator should check for the usual TLS and SASL failures.
pub fn connect_hint(why: &str) -> Option<&'static str> {
    [
        ("UnknownIssuer", "the broker's certificate is not signed by a CA in ssl.truststore.*"),
        ("not valid for name", "the broker's certificate does not name the host in bootstrap.servers/advertised listeners; fix the certificate, or set ssl.endpoint.identification.algorithm= (empty) to skip host name checks"),
        ("Expired", "a certificate has expired (or the clock is wrong)"),
        ("CertificateRequired", "the broker requires a client certificate: set ssl.keystore.*"),
        ("BadCertificate", "the broker rejected the client certificate: check ssl.keystore.* and the broker's truststore"),
        ("SASL_AUTHENTICATION_FAILED", "wrong user name or password in sasl.jaas.config, or the user lacks credentials for this sasl.mechanism"),
        ("UNSUPPORTED_SASL_MECHANISM", "the broker does not enable this sasl.mechanism"),
        ("InvalidContentType", "the endpoint does not speak TLS (security.protocol=SSL/SASL_SSL against a plaintext listener?)"),
        ("CorruptMessage", "the endpoint does not speak TLS (security.protocol=SSL/SASL_SSL against a plaintext listener?)"),
    ]
    .into_iter()
    .find(|(needle, _)| why.contains(needle))
    .map(|(_, hint)| hint)
}

/// How [`run_flow`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowEnd {
    /// Cancelled (or nothing to connect to): stopped with progress saved.
    Stopped,
    /// The scale-out group leader's file differs from this process's: the
    /// flow stopped (progress saved, group left) to be run again with the
    /// leader's settings ([`crate::group::with_leader_settings`]).
    AdoptLeaderSettings(BTreeMap<String, String>),
}

/// Runs one flow until `cancel`; returns after progress is saved.
pub async fn run_flow(plan: FlowPlan, cancel: CancellationToken) -> Result<FlowEnd, EngineError> {
    // Cancelled by the caller, or here to re-run with the group leader's settings.
    let cancel = cancel.child_token();
    let mut adopt: Option<BTreeMap<String, String>> = None;
    let flow_name = plan.name();
    plan.metrics.flow_registered(&flow_name);
    // Both clusters at once; a cluster that is down is waited for, not fatal.
    let (Some(source), Some(target)) = tokio::join!(
        connect_with_retry(
            &plan.source_bootstrap,
            plan.source_client.clone(),
            &plan.source_alias,
            &cancel
        ),
        connect_with_retry(
            &plan.target_bootstrap,
            plan.target_client.clone(),
            &plan.target_alias,
            &cancel
        ),
    ) else {
        return Ok(FlowEnd::Stopped);
    };
    let err = |what: &str| {
        let flow = flow_name.clone();
        let what = what.to_owned();
        move |source| EngineError::Cluster { flow, what, source }
    };
    // Internal topics: progress on the target, offset syncs where configured.
    ensure_topic(
        &target,
        &plan.progress.progress_topic,
        1,
        plan.internal_replication_factor,
        true,
    )
    .await
    .map_err(err("creating the progress topic"))?;
    let syncs_cluster = if plan.offset_syncs_on_source {
        source.clone()
    } else {
        target.clone()
    };
    if plan.progress.emit_offset_syncs {
        ensure_topic(
            &syncs_cluster,
            &plan.progress.offset_syncs_topic,
            1,
            plan.internal_replication_factor,
            true,
        )
        .await
        .map_err(err("creating the offset-syncs topic"))?;
    }
    let saved = load_progress(&target, &plan.progress.progress_topic, &plan.source_alias)
        .await
        .map_err(err("reading saved progress"))?;
    tracing::info!(flow = %flow_name, partitions = saved.len(), "loaded saved progress");
    let pid = Arc::new(
        SharedProducerId::new(target.clone())
            .await
            .map_err(|source| EngineError::Producer {
                flow: flow_name.clone(),
                source,
            })?,
    );
    let hub = Arc::new(
        ProgressHub::new(plan.progress.clone(), target.clone(), syncs_cluster)
            .with_metrics(Arc::clone(&plan.metrics), &plan.target_alias),
    );
    let total = Arc::new(AtomicUsize::new(0));
    let out_of_range = Arc::new(tokio::sync::Notify::new());
    // The fetcher long-polls, and a broker answers one request per
    // connection at a time: it gets its own connections, so offset syncs,
    // ListOffsets and Metadata to the source never wait behind a fetch (up to
    // fetch.max.wait.ms), nor the next fetch behind them.
    let Some(fetch_client) = connect_with_retry(
        &plan.source_bootstrap,
        plan.source_client.clone(),
        &plan.source_alias,
        &cancel,
    )
    .await
    else {
        return Ok(FlowEnd::Stopped);
    };
    let (fetcher, handle) = Fetcher::new(
        fetch_client,
        plan.fetch.clone(),
        Arc::clone(&total),
        Arc::clone(&out_of_range),
    );
    let fetch_cancel = cancel.child_token();
    let hub_cancel = CancellationToken::new();
    let fetch_task = tokio::spawn(fetcher.run(fetch_cancel.clone()));
    let hub_task = {
        let hub = Arc::clone(&hub);
        let c = hub_cancel.clone();
        tokio::spawn(async move { hub.run(c).await })
    };
    plan.metrics.flow_health(&flow_name, true, None);
    let probe_task = tokio::spawn(probe_health(
        flow_name.clone(),
        source.clone(),
        target.clone(),
        Arc::clone(&plan.metrics),
        hub_cancel.clone(),
    ));
    let mut leaf_cancel = CancellationToken::new();
    let mut leaf_tasks = JoinSet::new();
    let leaf_context = leaves::LeafContext {
        plan: plan.clone(),
        source: source.clone(),
        target: target.clone(),
    };
    // With scale-out the once-per-flow leaves run on the group leader, the
    // checkpoints on the member given their work item.
    if plan.group.is_none() {
        leaves::spawn_leaves(
            &leaf_context,
            &mut leaf_tasks,
            &leaf_cancel,
            leaves::LeafWork::ALL,
        );
    }
    let group_cancel = CancellationToken::new();
    let (group, group_task) = match &plan.group {
        Some(settings) => {
            let config_keys = settings.file_config_keys.clone().unwrap_or_else(|| {
                plan.config
                    .as_deref()
                    .map(crate::group::config_keys)
                    .unwrap_or_default()
            });
            let (local_tx, local_rx) = watch::channel(membership::Local {
                fingerprint: crate::group::config_fingerprint(&config_keys),
                config_keys,
                settings: settings.file_settings.clone().unwrap_or_else(|| {
                    plan.config
                        .as_deref()
                        .map(crate::group::adoptable_settings)
                        .unwrap_or_default()
                }),
                generation: -1,
                ..membership::Local::default()
            });
            let (granted_tx, granted_rx) = watch::channel(membership::Granted {
                generation: -1,
                ..Default::default()
            });
            let rejoin = Arc::new(Notify::new());
            let task = tokio::spawn(membership::run(
                target.clone(),
                settings.clone(),
                local_rx,
                Arc::clone(&rejoin),
                granted_tx,
                group_cancel.clone(),
            ));
            tracing::info!(flow = %flow_name, group = %settings.group_id, "scale-out: sharing this flow's partitions through the group");
            (
                Some(GroupState {
                    local: local_tx,
                    rejoin,
                    granted: granted_rx,
                    current: membership::Granted {
                        generation: -1,
                        ..Default::default()
                    },
                    revoking: HashSet::new(),
                    checkpoints: None,
                    measured: HashMap::new(),
                }),
                Some(task),
            )
        }
        None => (None, None),
    };
    let mut flow = Flow {
        plan,
        source,
        target,
        hub: Arc::clone(&hub),
        pid,
        fetcher: handle,
        total,
        stats: Arc::new(FlowStats::default()),
        running: BTreeMap::new(),
        saved,
        starts: HashMap::new(),
        tokens: HashMap::new(),
        pending_restart: HashMap::new(),
        topic_ids: HashMap::new(),
        last_end: HashMap::new(),
        live: HashSet::new(),
        group,
        grow_failed: HashSet::new(),
    };
    let mut partitions: JoinSet<(Tp, Result<i64, crate::forward::produce::ForwardError>)> =
        JoinSet::new();
    let mut refresh = tokio::time::interval(flow.plan.refresh_topics_interval);
    let mut last_report = LastReport::default();
    let mut integrity = tokio::time::interval(flow.plan.integrity_interval);
    integrity.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut report = tokio::time::interval(flow.plan.report_interval);
    report.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = refresh.tick() => {
                if let Err(e) = discover(&mut flow, &mut partitions, &cancel).await {
                    tracing::warn!(flow = %flow.name(), error = %e, "topic discovery failed; will retry");
                }
            }
            _ = out_of_range.notified() => {
                if let Err(e) = check_integrity(&mut flow).await {
                    tracing::warn!(flow = %flow.name(), error = %e, "source integrity check failed; will retry");
                }
            }
            _ = integrity.tick() => {
                if let Err(e) = check_integrity(&mut flow).await {
                    tracing::warn!(flow = %flow.name(), error = %e, "source integrity check failed; will retry");
                }
            }
            _ = report.tick() => {
                log_rates(&flow, &mut last_report);
                log_stats(&flow);
            }
            Ok(()) = async {
                match flow.group.as_mut() {
                    Some(g) => g.granted.changed().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(settings) = settings_to_adopt(&flow) {
                    adopt = Some(settings);
                    cancel.cancel();
                    continue;
                }
                let was_leader = flow.is_leader();
                if let Err(e) = apply_grant(&mut flow, &mut partitions, &cancel).await {
                    tracing::error!(flow = %flow.name(), error = %e, "applying the group's assignment failed; re-joining");
                    if let Some(g) = &flow.group {
                        g.rejoin.notify_one();
                    }
                }
                match (was_leader, flow.is_leader()) {
                    (false, true) => {
                        leaf_cancel = CancellationToken::new();
                        let work = leaves::LeafWork { once_per_flow: true, checkpoints: false };
                        leaves::spawn_leaves(&leaf_context, &mut leaf_tasks, &leaf_cancel, work);
                        tracing::info!(flow = %flow.name(), "group leader: running discovery, topic creation, config and ACL sync and heartbeats");
                    }
                    (true, false) => leaf_cancel.cancel(),
                    _ => {}
                }
                follow_checkpoint_grant(&mut flow, &leaf_context, &mut leaf_tasks);
            }
            Some(res) = partitions.join_next() => {
                if let Ok((tp, _)) = &res {
                    flow.live.remove(tp);
                    if let Some(g) = flow.group.as_mut()
                        && g.revoking.remove(tp)
                    {
                        flow.plan.metrics.partition_stopped(&partition_labels(&flow.plan, tp));
                        if g.revoking.is_empty() {
                            revocation_done(&mut flow).await;
                        }
                        continue;
                    }
                }
                if let Ok((tp, Ok(_))) = &res
                    && let Some(start) = flow.pending_restart.remove(tp)
                {
                    if let Err(e) = start_partition(&mut flow, &mut partitions, tp, Some(start), &cancel).await {
                        tracing::error!(flow = %flow.name(), error = %e, "restarting partition failed");
                    }
                }
                if let Ok((tp, Err(e))) = res
                    && flow.may_run(&tp)
                {
                    // Restart where the integrity check said to, if it was
                    // stopping this partition for that, else from the last
                    // acknowledged position: nothing skipped. (A pending
                    // restart left behind would hide the partition from
                    // every later integrity check.)
                    tracing::error!(flow = %flow.name(), topic = %tp.0, partition = tp.1, error = %e, "partition stopped; restarting in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    let start = flow
                        .pending_restart
                        .remove(&tp)
                        .or_else(|| flow.hub.position(&tp))
                        .or_else(|| flow.saved.get(&tp).copied());
                    if let Err(e) = start_partition(&mut flow, &mut partitions, &tp, start, &cancel).await {
                        tracing::error!(flow = %flow.name(), error = %e, "restarting partition failed");
                    }
                }
            }
        }
    }
    // Shutdown: the fetcher stops with `cancel`; partitions drain their in-flight produces.
    fetch_cancel.cancel();
    let drain = async { while partitions.join_next().await.is_some() {} };
    if tokio::time::timeout(flow.plan.shutdown_drain, drain)
        .await
        .is_err()
    {
        tracing::warn!(flow = %flow.name(), "in-flight produces did not finish in time; unacknowledged records will be re-sent on restart");
    }
    // The rest is bounded too, so `kmirror run` exits within 10 s of SIGTERM
    // even when a cluster stopped answering.
    leaf_cancel.cancel();
    if let Some(token) = flow.group.as_mut().and_then(|g| g.checkpoints.take()) {
        token.cancel();
    }
    if tokio::time::timeout(Duration::from_secs(1), async {
        while leaf_tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        leaf_tasks.abort_all();
    }
    hub_cancel.cancel();
    for task in [hub_task, probe_task, fetch_task] {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_millis(300), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    match tokio::time::timeout(Duration::from_millis(1200), flow.hub.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(flow = %flow.name(), error = %e, "saving progress at shutdown failed; records since the last save will be re-sent");
        }
        Err(_) => {
            tracing::error!(flow = %flow.name(), "saving progress at shutdown timed out; records since the last save will be re-sent");
        }
    }
    // Leave the group only now: progress is saved, so whoever takes over
    // resumes where this process stopped.
    group_cancel.cancel();
    if let Some(task) = group_task {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    log_stats(&flow);
    Ok(match adopt {
        Some(settings) => FlowEnd::AdoptLeaderSettings(settings),
        None => FlowEnd::Stopped,
    })
}

/// The settings this process must be rebuilt with, when it runs others than
/// its group's: a member runs the leader's file settings; a leader that had
/// adopted an earlier leader's goes back to its own file's (so a rolling
/// restart with a new file takes effect once a new-file process leads).
/// A rebuild that still differs is logged, never repeated.
fn settings_to_adopt(flow: &Flow) -> Option<BTreeMap<String, String>> {
    let g = flow.group.as_ref()?;
    let settings = flow.plan.group.as_ref()?;
    let granted = g.granted.borrow();
    let wanted = if granted.leader {
        settings.file_settings.as_ref()?
    } else {
        &granted.leader_settings
    };
    if wanted.is_empty() {
        return None;
    }
    let running = flow
        .plan
        .config
        .as_deref()
        .map(crate::group::adoptable_settings)
        .unwrap_or_default();
    let differ = crate::group::settings_to_adopt(&running, wanted);
    if differ.is_empty() {
        return None;
    }
    if settings.adopted_from.as_ref() == Some(wanted) {
        tracing::warn!(flow = %flow.name(), keys = %differ.join(", "), "these settings of the group leader could not be applied here; running this file's values for them");
        return None;
    }
    if granted.leader {
        tracing::warn!(flow = %flow.name(), keys = %differ.join(", "), "group leader now: restarting this flow with this file's settings, which every member then runs");
    } else {
        tracing::warn!(flow = %flow.name(), keys = %differ.join(", "), "restarting this flow with the group leader's settings (the leader's file wins, as in MM2)");
    }
    Some(wanted.clone())
}

/// Applies the group's latest grant: stops what was taken away (the group
/// re-joins once they stopped and progress is saved) and starts what was
/// given, from the progress its previous owner saved.
async fn apply_grant(
    flow: &mut Flow,
    partitions: &mut JoinSet<(Tp, Result<i64, crate::forward::produce::ForwardError>)>,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let name = flow.name();
    let Some(g) = flow.group.as_mut() else {
        return Ok(());
    };
    g.current = g.granted.borrow_and_update().clone();
    if g.current.generation >= 0 {
        flow.hub.set_generation(g.current.generation);
    }
    flow.plan.metrics.flow_group(
        &name,
        crate::metrics::GroupStatus {
            generation: g.current.generation,
            leader: g.current.leader,
            partitions: g
                .current
                .partitions
                .iter()
                .filter(|(t, _)| t != leaves::CHECKPOINT_WORK.0)
                .count(),
            checkpoints: g
                .current
                .partitions
                .iter()
                .any(|(t, _)| t == leaves::CHECKPOINT_WORK.0),
            config_differs_from_leader: g.current.differs_from_leader.clone(),
        },
    );
    let granted = g.current.partitions.clone();
    let revoke: Vec<Tp> = flow
        .live
        .iter()
        .filter(|tp| !granted.contains(*tp))
        .cloned()
        .collect();
    for tp in &revoke {
        if let Some(token) = flow.tokens.remove(tp) {
            token.cancel();
        }
        flow.pending_restart.remove(tp);
        flow.starts.remove(tp);
        g.revoking.insert(tp.clone());
    }
    if !revoke.is_empty() {
        tracing::info!(flow = %name, partitions = revoke.len(), "handing partitions back to the group");
    }
    let known = |tp: &Tp| flow.running.get(&tp.0).is_some_and(|n| tp.1 < *n);
    let new: Vec<Tp> = granted
        .iter()
        .filter(|tp| !flow.live.contains(*tp) && !g.revoking.contains(*tp) && known(tp))
        .cloned()
        .collect();
    if !new.is_empty() {
        // The previous owner saved its progress before letting go.
        flow.saved = load_progress(
            &flow.target,
            &flow.plan.progress.progress_topic,
            &flow.plan.source_alias,
        )
        .await?;
        for tp in &new {
            let start = flow.saved.get(tp).copied();
            start_partition(flow, partitions, tp, start, cancel).await?;
        }
    }
    publish_owned(flow);
    Ok(())
}

/// Starts or stops the checkpoint work as the group's latest grant says; a
/// member that hands it back re-joins so the leader can give it away.
fn follow_checkpoint_grant(flow: &mut Flow, ctx: &leaves::LeafContext, tasks: &mut JoinSet<()>) {
    let name = flow.name();
    let Some(g) = flow.group.as_mut() else {
        return;
    };
    let (topic, p) = leaves::CHECKPOINT_WORK;
    let granted = g.current.partitions.contains(&(topic.to_owned(), p));
    match (granted, g.checkpoints.take()) {
        (true, None) => {
            // Not a child of the leader's leaves: leadership and the
            // checkpoint work move separately. Cancelled at shutdown.
            let token = CancellationToken::new();
            let work = leaves::LeafWork {
                once_per_flow: false,
                checkpoints: true,
            };
            leaves::spawn_leaves(ctx, tasks, &token, work);
            tracing::info!(flow = %name, "running this flow's checkpoints and group offset sync");
            g.checkpoints = Some(token);
        }
        (true, Some(token)) => g.checkpoints = Some(token),
        (false, Some(token)) => {
            token.cancel();
            tracing::info!(flow = %name, "checkpoints handed back to the group");
            publish_owned(flow);
            if let Some(g) = &flow.group {
                g.rejoin.notify_one();
            }
        }
        (false, None) => {}
    }
}

/// Every revoked partition has stopped: save progress, then re-join so the
/// leader can give them away.
async fn revocation_done(flow: &mut Flow) {
    if let Err(e) = flow.hub.flush().await {
        tracing::error!(flow = %flow.name(), error = %e, "saving progress before handing partitions back failed; their next owner re-sends records since the last save");
    }
    publish_owned(flow);
    if let Some(g) = &flow.group {
        g.rejoin.notify_one();
    }
}

/// Tells the group which partitions run here and their load: batch bytes/s
/// acknowledged by the target, from the metrics' per-partition counters.
fn publish_owned(flow: &mut Flow) {
    let Some(g) = flow.group.as_mut() else {
        return;
    };
    let now = tokio::time::Instant::now();
    let mut owned: Vec<Tp> = flow.live.iter().cloned().collect();
    if g.checkpoints.is_some() {
        let (topic, p) = leaves::CHECKPOINT_WORK;
        owned.push((topic.to_owned(), p));
    }
    owned.sort();
    let mut load = g.local.borrow().load.clone();
    for tp in &owned {
        let bytes = flow
            .plan
            .metrics
            .partition_bytes(&partition_labels(&flow.plan, tp));
        let pos = i64::try_from(bytes).unwrap_or(i64::MAX);
        if let Some((before, at)) = g.measured.insert(tp.clone(), (pos, now)) {
            let secs = now.duration_since(at).as_secs_f64();
            if secs >= 1.0 {
                load.insert(tp.clone(), (pos - before).max(0) as f64 / secs);
            } else {
                g.measured.insert(tp.clone(), (before, at));
            }
        }
    }
    let generation = g.current.generation;
    g.local.send_modify(|l| {
        l.owned = owned;
        l.generation = generation;
        l.load = load;
    });
}

/// Every 2 s, asks both clusters for broker metadata: `/healthz` reports a
/// flow whose source or target stops answering.
async fn probe_health(
    flow: String,
    source: Client,
    target: Client,
    metrics: Arc<crate::metrics::Metrics>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let probe = |c: &Client| {
            let c = c.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(5), c.refresh_metadata(Some(&[]))).await
            }
        };
        let (s, t) = tokio::join!(probe(&source), probe(&target));
        let reason = match (s, t) {
            (Ok(Ok(_)), Ok(Ok(_))) => None,
            (Ok(Ok(_)), Ok(Err(e))) => Some(format!("target unreachable: {e}")),
            (Ok(Err(e)), _) => Some(format!("source unreachable: {e}")),
            (Err(_), _) => Some("source metadata request timed out".to_owned()),
            (_, Err(_)) => Some("target metadata request timed out".to_owned()),
        };
        metrics.flow_health(&flow, reason.is_none(), reason);
    }
}

/// Records and bytes at the previous report, for rates.
#[derive(Debug, Default, Clone, Copy)]
struct LastReport {
    at: Option<tokio::time::Instant>,
    records: u64,
    bytes: u64,
}

fn log_rates(flow: &Flow, last: &mut LastReport) {
    let s = &flow.stats;
    let now = tokio::time::Instant::now();
    let records = s.records.load(Ordering::Relaxed);
    let bytes = s.bytes.load(Ordering::Relaxed);
    if let Some(at) = last.at {
        let secs = now.duration_since(at).as_secs_f64().max(1e-3);
        let rps = (records - last.records) as f64 / secs;
        let mbps = (bytes - last.bytes) as f64 / secs / 1e6;
        let lag = s.total_lag();
        let eta = if lag == 0 {
            "caught up".to_owned()
        } else if rps > 0.0 {
            format!("{:.0} s", lag as f64 / rps)
        } else {
            "unknown (no progress)".to_owned()
        };
        tracing::info!(flow = %flow.name(), records_per_s = format!("{rps:.0}"), mb_per_s = format!("{mbps:.2}"), lag_records = lag, eta = %eta, "replication rate");
    }
    *last = LastReport {
        at: Some(now),
        records,
        bytes,
    };
}

fn log_stats(flow: &Flow) {
    let s = &flow.stats;
    tracing::info!(
        flow = %flow.name(),
        records = s.records.load(Ordering::Relaxed),
        bytes = s.bytes.load(Ordering::Relaxed),
        batches_passed = s.batches_passed.load(Ordering::Relaxed),
        batches_rebuilt = s.batches_rebuilt.load(Ordering::Relaxed),
        batches_dropped = s.batches_dropped.load(Ordering::Relaxed),
        possible_duplicates = s.possible_duplicates.load(Ordering::Relaxed),
        lag_records = s.total_lag(),
        buffered_bytes = flow.total.load(Ordering::Relaxed),
        "replication progress"
    );
}

/// Creates a topic unless it exists; compacted if `compact`.
async fn ensure_topic(
    client: &Client,
    topic: &str,
    partitions: i32,
    rf: i16,
    compact: bool,
) -> Result<(), ClientError> {
    if client.topic_meta(topic).is_some() {
        return Ok(());
    }
    client.refresh_metadata(Some(&[topic.to_owned()])).await?;
    if client.topic_meta(topic).is_some() {
        return Ok(());
    }
    let configs = if compact {
        vec![("cleanup.policy".to_owned(), "compact".to_owned())]
    } else {
        vec![]
    };
    let r = client
        .create_topics(
            &[NewTopic {
                name: topic.to_owned(),
                num_partitions: partitions,
                replication_factor: rf,
                configs,
            }],
            30_000,
            false,
        )
        .await?;
    match r.into_iter().next().map(|(_, r)| r) {
        Some(Ok(())) | None => {}
        Some(Err(e)) if e.code() == Some(ResponseError::TopicAlreadyExists) => {}
        Some(Err(e)) if e.code() == Some(ResponseError::InvalidReplicationFactor) && rf != -1 => {
            // A small cluster (fewer brokers than the configured factor): an
            // internal topic must exist for progress to be saved at all.
            tracing::warn!(topic, replication_factor = rf, error = %e, "retrying with the broker's default replication factor");
            return Box::pin(ensure_topic(client, topic, partitions, -1, compact)).await;
        }
        Some(Err(e)) => return Err(e),
    }
    let topics = [topic.to_owned()];
    client
        .retry(&topics, || async {
            client.refresh_metadata(Some(&topics)).await?;
            match client.topic_meta(topic) {
                Some(m) if m.partitions.values().all(|p| p.leader >= 0) => Ok(()),
                _ => Err(ClientError::NoLeader {
                    tp: topic.to_owned(),
                }),
            }
        })
        .await
}

/// Finds source topics to replicate, creates or grows their remote topics,
/// and starts partitions not yet running.
async fn discover(
    flow: &mut Flow,
    partitions: &mut JoinSet<(Tp, Result<i64, crate::forward::produce::ForwardError>)>,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let topics = flow.source.list_topics().await?;
    // Remember each topic's id when first seen, so a later re-creation shows.
    for (name, meta) in &topics {
        flow.topic_ids.entry(name.clone()).or_insert(meta.topic_id);
    }
    let mut wanted: Vec<(String, i32)> = topics
        .iter()
        .filter(|(name, meta)| {
            !meta.is_internal
                && policy::should_replicate_topic_with_heartbeats(
                    &flow.plan.policy,
                    &flow.plan.topic_filter,
                    &flow.plan.target_alias,
                    name,
                    flow.plan
                        .config
                        .as_ref()
                        .is_none_or(|c| c.heartbeats_replication_enabled),
                )
        })
        .map(|(name, meta)| (name.clone(), meta.partitions.len() as i32))
        .collect();
    wanted.sort();
    let target_topics = flow.target.list_topics().await?;
    let mut universe = std::collections::BTreeSet::new();
    if flow
        .plan
        .config
        .as_deref()
        .is_some_and(|c| c.emit_checkpoints_enabled)
    {
        let (topic, p) = leaves::CHECKPOINT_WORK;
        universe.insert((topic.to_owned(), p));
    }
    for (topic, count) in wanted {
        if flow.running.get(&topic).copied().unwrap_or(0) >= count {
            universe.extend((0..count).map(|p| (topic.clone(), p)));
            continue;
        }
        let remote = flow
            .plan
            .policy
            .format_remote_topic(&flow.plan.source_alias, &topic);
        // Partition rule and creation configs come from `sync::topics` (one
        // code path for the configs a remote topic starts with). With
        // scale-out only the group leader creates and grows remote topics.
        let plan = crate::sync::topics::plan_partitions(
            count,
            target_topics
                .get(&remote)
                .map(|m| m.partitions.len() as i32),
        );
        let plan = if flow.is_leader() {
            plan
        } else {
            crate::sync::topics::PartitionPlan::Keep
        };
        match plan {
            crate::sync::topics::PartitionPlan::Create { partitions: n } => {
                let settings = match flow.plan.config.as_deref() {
                    Some(f) => crate::sync::topics::ConfigSyncSettings::from_flow(f)
                        .unwrap_or_else(|e| {
                            tracing::warn!(flow = %flow.name(), error = %e, "using MM2's default config.properties.exclude");
                            Default::default()
                        }),
                    None => Default::default(),
                };
                match crate::sync::topics::create_remote_topic(
                    &flow.source,
                    &flow.target,
                    &flow.name(),
                    &topic,
                    &remote,
                    n,
                    flow.plan.replication_factor,
                    &settings,
                )
                .await
                {
                    Ok(c) if c.created => {
                        let configs: Vec<String> =
                            c.configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        tracing::info!(flow = %flow.name(), topic = %remote, partitions = n, configs = %configs.join(", "), keys_refused = c.dropped.len(), "created remote topic");
                    }
                    Ok(_) => {}
                    // A failed exchange (no Kafka error code): retry the whole pass later.
                    Err(e) if e.code().is_none() => return Err(e),
                    Err(e) => {
                        tracing::error!(flow = %flow.name(), topic = %remote, error = %e, "cannot create remote topic; retrying next refresh");
                        continue;
                    }
                }
            }
            crate::sync::topics::PartitionPlan::Grow { from, to } => {
                // A refused or failed grow (a target without CreatePartitions,
                // an ACL) must not hold up the other topics: the partitions
                // that exist run, the new ones wait for the next refresh.
                let r = flow
                    .target
                    .create_partitions(&[(remote.clone(), to)], 30_000)
                    .await
                    .unwrap_or_else(|e| vec![(remote.clone(), Err(e))]);
                for (_, res) in r {
                    match res {
                        Ok(()) => {
                            flow.grow_failed.remove(&remote);
                            tracing::info!(flow = %flow.name(), topic = %remote, from, partitions = to, "grew remote topic")
                        }
                        Err(e) if flow.grow_failed.insert(remote.clone()) => {
                            tracing::error!(flow = %flow.name(), topic = %remote, from, partitions = to, error = %e, "cannot add partitions to remote topic; records of the new source partitions wait (nothing is skipped) and the grow is retried every refresh")
                        }
                        Err(e) => {
                            tracing::debug!(flow = %flow.name(), topic = %remote, error = %e, "remote topic still cannot grow")
                        }
                    }
                }
            }
            crate::sync::topics::PartitionPlan::Keep => {}
        }
        flow.target
            .refresh_metadata(Some(std::slice::from_ref(&remote)))
            .await?;
        let target_count = flow
            .target
            .topic_meta(&remote)
            .map_or(0, |m| m.partitions.len() as i32);
        let from = flow.running.get(&topic).copied().unwrap_or(0);
        for p in from..count.min(target_count) {
            let tp = (topic.clone(), p);
            if !flow.may_run(&tp) {
                continue;
            }
            let start = flow.saved.get(&tp).copied();
            start_partition(flow, partitions, &tp, start, cancel).await?;
        }
        let n = count.min(target_count).max(from);
        universe.extend((0..n).map(|p| (topic.clone(), p)));
        flow.running.insert(topic, n);
    }
    // Scale-out: the leader assigns from what discovery found; a change
    // (new topic or partitions) needs a new assignment.
    let leader = flow.is_leader();
    if let Some(g) = flow.group.as_mut()
        && g.local.borrow().universe != universe
    {
        g.local.send_modify(|l| l.universe = universe);
        if leader {
            g.rejoin.notify_one();
        }
    }
    publish_owned(flow);
    Ok(())
}

/// Compares every running partition's position with the source log, from
/// Metadata topic ids and ListOffsets (never from a fetch error alone), and
/// restarts a partition whose log is gone, re-created or truncated, saying
/// loudly which records were lost.
async fn check_integrity(flow: &mut Flow) -> Result<(), ClientError> {
    let topics: Vec<String> = flow.running.keys().cloned().collect();
    if topics.is_empty() {
        return Ok(());
    }
    flow.source.refresh_metadata(Some(&topics)).await?;
    let ids_before: HashMap<String, [u8; 16]> = topics
        .iter()
        .filter_map(|t| flow.source.topic_meta(t).map(|m| (t.clone(), m.topic_id)))
        .collect();
    let mut tps: Vec<Tp> = Vec::new();
    for t in &topics {
        let Some(meta) = flow.source.topic_meta(t) else {
            continue;
        };
        let n = flow.running.get(t).copied().unwrap_or(0);
        tps.extend(
            meta.partitions
                .keys()
                .filter(|p| **p < n)
                .map(|p| (t.clone(), *p))
                .filter(|tp| flow.live.contains(tp) || flow.pending_restart.contains_key(tp)),
        );
    }
    let earliest: HashMap<Tp, i64> = flow
        .source
        .list_offsets(&tps, OffsetSpec::Earliest, IsolationLevel::ReadUncommitted)
        .await?
        .into_iter()
        .filter_map(|(tp, r)| r.ok().map(|o| (tp, o)))
        .collect();
    let latest: HashMap<Tp, i64> = flow
        .source
        .list_offsets(&tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
        .await?
        .into_iter()
        .filter_map(|(tp, r)| r.ok().map(|o| (tp, o)))
        .collect();
    // The offsets describe the topic that existed while they were read only
    // if its id is the same before and after: a topic deleted or re-created
    // in between is judged at the next check, never from mixed answers.
    flow.source.refresh_metadata(Some(&topics)).await?;
    // Topics whose id changed while the offsets were read, and topics with
    // a partition left unjudged: their recorded id stays until a later check.
    let mut unresolved: HashSet<String> = HashSet::new();
    let mut recreated: Vec<String> = Vec::new();
    for t in &topics {
        let after = flow.source.topic_meta(t).map(|m| m.topic_id);
        if after.is_none() || after != ids_before.get(t).copied() {
            unresolved.insert(t.clone());
            continue;
        }
        let id = after.unwrap_or_default();
        tracing::trace!(topic = %t, ?id, "integrity check");
        match flow.topic_ids.get(t) {
            Some(old) if *old != id && *old != [0; 16] && id != [0; 16] => {
                recreated.push(t.clone())
            }
            Some(_) => {}
            None => {
                flow.topic_ids.insert(t.clone(), id);
            }
        }
    }
    for tp in tps {
        if unresolved.contains(&tp.0) || flow.pending_restart.contains_key(&tp) {
            unresolved.insert(tp.0.clone());
            continue;
        }
        let (Some(&first), Some(&end)) = (earliest.get(&tp), latest.get(&tp)) else {
            unresolved.insert(tp.0.clone());
            continue;
        };
        let Some(position) = flow
            .hub
            .position(&tp)
            .or_else(|| flow.starts.get(&tp).copied())
        else {
            unresolved.insert(tp.0.clone());
            continue;
        };
        let labels = partition_labels(&flow.plan, &tp);
        let is_recreated = recreated.contains(&tp.0);
        // A log end below the position is checked with a fetch first: some
        // brokers report a lagging high watermark (see `fetched_log_end`).
        let end = if !is_recreated && first <= position && end < position {
            fetched_log_end(&flow.source, &tp, end, position).await
        } else {
            end
        };
        let verdict = judge_source_log(
            position,
            first,
            end,
            is_recreated,
            flow.last_end.get(&tp).copied(),
        );
        if let Some(v) = verdict {
            report_loss(&flow.name(), &tp, &v);
            flow.plan.metrics.lost(&labels, v.lost_records());
        } else {
            flow.plan.metrics.high_watermark(&labels, end);
        }
        flow.last_end.insert(tp.clone(), end.max(position));
        if let Some(v) = verdict
            && let Some(token) = flow.tokens.get(&tp)
        {
            flow.pending_restart.insert(tp.clone(), v.resume_at);
            token.cancel();
        }
    }
    for t in recreated.into_iter().filter(|t| !unresolved.contains(t)) {
        if let Some(meta) = flow.source.topic_meta(&t) {
            flow.topic_ids.insert(t, meta.topic_id);
        }
    }
    Ok(())
}

/// Why a partition's source log no longer holds the records after its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceLoss {
    /// The topic was deleted and re-created (new topic id).
    Recreated,
    /// Records before the log start were deleted (retention, DeleteRecords).
    Deleted,
    /// The log end fell below the position, same topic id (unclean leader election).
    Truncated,
}

/// What the integrity check decides for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    /// Why.
    loss: SourceLoss,
    /// The source offsets `[from, to)` lost: never replicated (re-created:
    /// a lower bound; deleted), or replicated but gone from the source (truncated).
    from: i64,
    /// End (exclusive) of the lost range.
    to: i64,
    /// Where the partition resumes.
    resume_at: i64,
}

impl Verdict {
    fn lost_records(&self) -> u64 {
        u64::try_from(self.to - self.from).unwrap_or(0)
    }
}

/// The integrity check's decision, from the partition's `position`, the
/// source's `log_start` and `log_end` (ListOffsets, the end confirmed by a
/// fetch), whether the topic id changed, and the end offset seen at the last
/// check. `None`: the position is inside the log.
fn judge_source_log(
    position: i64,
    log_start: i64,
    log_end: i64,
    topic_recreated: bool,
    last_seen_end: Option<i64>,
) -> Option<Verdict> {
    if topic_recreated {
        // The old log held at least up to the last end seen.
        let to = last_seen_end.unwrap_or(position).max(position);
        Some(Verdict {
            loss: SourceLoss::Recreated,
            from: position,
            to,
            resume_at: log_start,
        })
    } else if position < log_start {
        Some(Verdict {
            loss: SourceLoss::Deleted,
            from: position,
            to: log_start,
            resume_at: log_start,
        })
    } else if log_end < position {
        Some(Verdict {
            loss: SourceLoss::Truncated,
            from: log_end,
            to: position,
            resume_at: log_end,
        })
    } else {
        None
    }
}

/// The error line for a loss: flow, topic, partition and the range `[from, to)`.
fn report_loss(flow: &str, tp: &Tp, v: &Verdict) {
    let (topic, partition, from, to, lost) = (&tp.0, tp.1, v.from, v.to, v.lost_records());
    match v.loss {
        SourceLoss::Recreated => tracing::error!(
            flow, topic = %topic, partition, from, to, lost_at_least = lost,
            "DATA LOSS: source topic was deleted and re-created; records [from, to) were never replicated (a lower bound); resuming at the new topic's start"
        ),
        SourceLoss::Deleted => tracing::error!(
            flow, topic = %topic, partition, from, to, lost,
            "DATA LOSS: source records [from, to) were deleted (retention or DeleteRecords) before kmirror replicated them; resuming at the log start"
        ),
        SourceLoss::Truncated => tracing::error!(
            flow, topic = %topic, partition, from, to, lost,
            "DATA LOSS: source log was truncated below kmirror's position (unclean leader election?); records [from, to) are on the target but gone from the source, and new source records reuse those offsets; resuming at the log end"
        ),
    }
}

/// The metric labels of a source partition (its remote topic).
fn partition_labels(plan: &FlowPlan, tp: &Tp) -> crate::metrics::PartitionLabels {
    crate::metrics::PartitionLabels {
        source: plan.source_alias.clone(),
        target: plan.target_alias.clone(),
        topic: plan.policy.format_remote_topic(&plan.source_alias, &tp.0),
        partition: tp.1,
    }
}

/// The source log end for a partition whose ListOffsets end `end` is below
/// its `position`: the end of the batches a fetch from just before `end`
/// returns, if further (at least `position` when the source still holds the
/// record before the position; `position` as well when the fetch fails, so
/// nothing is judged lost on a failed read). Guards the truncation check
/// against brokers whose high watermark lags (tansu 0.6.0 reports the last
/// batch's base offset + 1, and serves nothing for an offset inside a batch).
async fn fetched_log_end(client: &Client, tp: &Tp, end: i64, position: i64) -> i64 {
    use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession};
    let Ok(leader) = client.leader(&tp.0, tp.1).await else {
        return position;
    };
    let mut s = FetchSession::new(client.clone(), leader, IsolationLevel::ReadUncommitted);
    s.max_wait = Duration::from_millis(50);
    let Ok(resp) = s
        .fetch(&[FetchPosition {
            topic: tp.0.clone(),
            partition: tp.1,
            fetch_offset: (end - 1).max(0),
            partition_max_bytes: 65_536,
        }])
        .await
    else {
        return position;
    };
    resp.into_iter()
        .flat_map(|p| kmirror_protocol::batch::batches(p.records).filter_map(Result::ok))
        .map(|b| b.last_offset() + 1)
        .fold(end, i64::max)
}

async fn start_partition(
    flow: &mut Flow,
    partitions: &mut JoinSet<(Tp, Result<i64, crate::forward::produce::ForwardError>)>,
    tp: &Tp,
    start: Option<i64>,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let saved = start.is_some();
    // `{source}.consumer.auto.offset.reset`: earliest (MM2's default) or latest.
    let latest = flow.plan.config.as_deref().is_some_and(|c| {
        c.source_consumer
            .get("auto.offset.reset")
            .is_some_and(|v| v.trim() == "latest")
    });
    let start = match start {
        Some(s) => s,
        None => {
            let spec = if latest {
                OffsetSpec::Latest
            } else {
                OffsetSpec::Earliest
            };
            let r = flow
                .source
                .list_offsets(
                    std::slice::from_ref(tp),
                    spec,
                    IsolationLevel::ReadUncommitted,
                )
                .await?;
            let offset = match r.into_iter().next() {
                Some((_, Ok(o))) => o,
                Some((_, Err(e))) => return Err(e),
                None => 0,
            };
            if latest {
                // Saved before anything is forwarded: a restart resumes
                // here, never at a newer end (which would skip records).
                flow.hub.save_start(tp, offset).await?;
            }
            offset
        }
    };
    let remote = flow
        .plan
        .policy
        .format_remote_topic(&flow.plan.source_alias, &tp.0);
    let from = match (saved, latest) {
        (true, _) => "saved progress",
        (false, false) => "the log start (no saved progress)",
        (false, true) => "the log end (no saved progress, auto.offset.reset=latest)",
    };
    tracing::info!(flow = %flow.name(), topic = %tp.0, partition = tp.1, offset = start, from, "starting partition");
    let (tx, rx) = mpsc::channel(2);
    let buffered = Arc::new(AtomicUsize::new(0));
    let producer = PartitionProducer::new(
        flow.target.clone(),
        remote,
        tp.1,
        Arc::clone(&flow.pid),
        flow.plan.max_in_flight,
        flow.plan.produce_timeout_ms,
    )
    .await
    .with_coalesce_bytes(flow.plan.coalesce_bytes);
    let pf = PartitionFlow {
        tp: tp.clone(),
        state: ClassifyState::new(start),
        config: flow.plan.classify,
        producer,
        hub: Arc::clone(&flow.hub),
        rx,
        buffered: Arc::clone(&buffered),
        total: Arc::clone(&flow.total),
        stats: Arc::clone(&flow.stats),
        high_watermark: -1,
        labels: crate::metrics::PartitionLabels {
            source: flow.plan.source_alias.clone(),
            target: flow.plan.target_alias.clone(),
            topic: flow
                .plan
                .policy
                .format_remote_topic(&flow.plan.source_alias, &tp.0),
            partition: tp.1,
        },
        metrics: Arc::clone(&flow.plan.metrics),
        acked: start,
    };
    flow.fetcher.add(Slot {
        tp: tp.clone(),
        next_fetch: start,
        tx,
        buffered,
        paused_until: None,
    });
    let syncs: &[&str] = if flow.plan.progress.emit_offset_syncs {
        &["progress", "offset-syncs"]
    } else {
        &["progress"]
    };
    flow.plan
        .metrics
        .partition_started(&pf.labels, start, syncs);
    let c = cancel.child_token();
    flow.live.insert(tp.clone());
    flow.tokens.insert(tp.clone(), c.clone());
    flow.starts.insert(tp.clone(), start);
    let tp2 = tp.clone();
    partitions.spawn(async move { (tp2, pf.run(c).await) });
    tracing::debug!(topic = %tp.0, partition = tp.1, start, "partition started");
    Ok(())
}

#[cfg(test)]
mod integrity_tests {
    use super::{SourceLoss, Verdict, judge_source_log};

    #[test]
    fn position_inside_the_log_is_left_alone() {
        assert_eq!(judge_source_log(50, 0, 100, false, Some(100)), None);
        assert_eq!(judge_source_log(0, 0, 0, false, None), None);
        assert_eq!(judge_source_log(100, 20, 100, false, Some(90)), None);
    }

    #[test]
    fn records_deleted_below_the_position_are_lost_from_position_to_log_start() {
        // Retention or DeleteRecords moved the log start from 0 to 75 while
        // kmirror stood at 40: [40, 75) were never replicated.
        let v = judge_source_log(40, 75, 120, false, Some(110));
        assert_eq!(
            v,
            Some(Verdict {
                loss: SourceLoss::Deleted,
                from: 40,
                to: 75,
                resume_at: 75,
            })
        );
        assert_eq!(v.map(|v| v.lost_records()), Some(35));
    }

    #[test]
    fn a_truncated_log_loses_log_end_to_position_and_resumes_at_the_log_end() {
        // Unclean leader election: kmirror replicated up to 100, the new
        // leader's log ends at 10.
        let v = judge_source_log(100, 0, 10, false, Some(100));
        assert_eq!(
            v,
            Some(Verdict {
                loss: SourceLoss::Truncated,
                from: 10,
                to: 100,
                resume_at: 10,
            })
        );
        assert_eq!(v.map(|v| v.lost_records()), Some(90));
    }

    #[test]
    fn a_recreated_topic_loses_at_least_position_to_last_seen_end_and_resumes_at_its_start() {
        // Old topic seen up to 30, kmirror at 25; the new topic holds [0, 20).
        let v = judge_source_log(25, 0, 20, true, Some(30));
        assert_eq!(
            v,
            Some(Verdict {
                loss: SourceLoss::Recreated,
                from: 25,
                to: 30,
                resume_at: 0,
            })
        );
        assert_eq!(v.map(|v| v.lost_records()), Some(5));
        // Everything seen was replicated: a lower bound of 0, still reported
        // and restarted at the new topic's start (which may not be 0).
        let v = judge_source_log(30, 3, 50, true, Some(30));
        assert_eq!(
            v.map(|v| (v.from, v.to, v.lost_records(), v.resume_at)),
            Some((30, 30, 0, 3))
        );
        // No end seen yet (first check after start): nothing known lost.
        let v = judge_source_log(30, 0, 50, true, None);
        assert_eq!(v.map(|v| (v.from, v.to, v.resume_at)), Some((30, 30, 0)));
        // Re-creation wins over the other tests (the old offsets mean nothing).
        let v = judge_source_log(5, 10, 20, true, Some(8));
        assert_eq!(v.map(|v| v.loss), Some(SourceLoss::Recreated));
    }
}
