//! Starts a flow's leaf modules (`sync/`) beside its data path and stops them
//! with it. Each leaf gets the clients and settings it needs, nothing more.

use kmirror_protocol::client::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::FlowPlan;

/// What a leaf may use.
#[derive(Debug, Clone)]
pub struct LeafContext {
    /// The flow's plan (settings, policy, `config` with every MM2 key).
    pub plan: FlowPlan,
    /// Source cluster client.
    pub source: Client,
    /// Target cluster client.
    pub target: Client,
}

/// Spawns every enabled leaf of the flow into `set`; each stops on `cancel`.
pub fn spawn_leaves(ctx: &LeafContext, set: &mut JoinSet<()>, cancel: &CancellationToken) {
    spawn_config_and_acl_sync(ctx, set, cancel);
    let _ = (ctx, set, cancel);
}

/// Topic-config sync and ACL sync (`sync::topics`, `sync::acls`): each at
/// start, then every `sync.topic.configs.interval.seconds` /
/// `sync.topic.acls.interval.seconds`, while enabled. Each pass's report goes
/// to the metrics (last success, errors) and, when it did something, the log.
fn spawn_config_and_acl_sync(ctx: &LeafContext, set: &mut JoinSet<()>, cancel: &CancellationToken) {
    use crate::sync::{acls, report::SyncReport, topics};
    let plan = &ctx.plan;
    let Some(cfg) = plan.config.as_deref() else {
        return;
    };
    let flow_topics = topics::FlowTopics {
        source_alias: plan.source_alias.clone(),
        target_alias: plan.target_alias.clone(),
        policy: plan.policy.clone(),
        filter: plan.topic_filter.clone(),
        heartbeats_replication_enabled: cfg.heartbeats_replication_enabled,
    };
    let on_report = |metrics: std::sync::Arc<crate::metrics::Metrics>| {
        let (source, target) = (plan.source_alias.clone(), plan.target_alias.clone());
        move |r: &SyncReport| {
            metrics.sync_ran(&source, &target, r.sync, r.succeeded());
            if r.applied.is_empty() && r.rejected.is_empty() {
                tracing::debug!(flow = %r.flow, sync = r.sync, "sync pass: nothing to change");
            } else {
                tracing::info!(flow = %r.flow, sync = r.sync, applied = r.applied.len(), rejected = r.rejected.len(), "sync pass");
            }
        }
    };
    if cfg.sync_topic_configs_enabled {
        match topics::ConfigSyncSettings::from_flow(cfg) {
            Ok(settings) => {
                let sync = topics::TopicConfigSync::new(
                    flow_topics.clone(),
                    settings,
                    ctx.source.clone(),
                    ctx.target.clone(),
                );
                set.spawn(sync.run(
                    cfg.sync_topic_configs_interval,
                    cancel.clone(),
                    on_report(std::sync::Arc::clone(&plan.metrics)),
                ));
            }
            Err(e) => {
                tracing::error!(flow = %plan.name(), error = %e, "topic-config sync not started")
            }
        }
    }
    if cfg.sync_topic_acls_enabled {
        let sync = acls::AclSync::new(flow_topics, ctx.source.clone(), ctx.target.clone());
        set.spawn(sync.run(
            cfg.sync_topic_acls_interval,
            cancel.clone(),
            on_report(std::sync::Arc::clone(&plan.metrics)),
        ));
    }
}
