//! `kmirror status CONFIG [--json]`: from outside any running process, how far
//! behind each flow is: saved position, lag in records and in seconds.
//!
//! Reads the source end offsets (ListOffsets) and kmirror's saved progress on
//! each target; lag in seconds is the age of the first record not replicated.

use std::path::Path;

use anyhow::bail;
use kmirror_protocol::batch::batches;
use kmirror_protocol::client::Client;
use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession, IsolationLevel};
use kmirror_protocol::client::api::offsets::OffsetSpec;
use serde::Serialize;

use crate::config::mm2;
use crate::engine::FlowPlan;
use crate::forward::progress::load_progress;
use crate::policy;

/// One partition's line.
#[derive(Debug, Serialize)]
pub struct Line {
    /// `source->target`.
    pub flow: String,
    /// Source topic.
    pub topic: String,
    /// Remote topic.
    pub remote_topic: String,
    /// Partition.
    pub partition: i32,
    /// Next source offset saved as replicated (None: not started).
    pub position: Option<i64>,
    /// Source end offset.
    pub end_offset: i64,
    /// Records not yet replicated.
    pub lag_records: i64,
    /// Age in seconds of the first record not yet replicated (0 when caught up).
    pub lag_seconds: f64,
}

async fn timestamp_at(client: &Client, topic: &str, partition: i32, offset: i64) -> Option<i64> {
    let leader = client.leader(topic, partition).await.ok()?;
    let mut s = FetchSession::new(client.clone(), leader, IsolationLevel::ReadUncommitted);
    s.max_wait = std::time::Duration::from_millis(50);
    let resp = s
        .fetch(&[FetchPosition {
            topic: topic.to_owned(),
            partition,
            fetch_offset: offset,
            partition_max_bytes: 65_536,
        }])
        .await
        .ok()?;
    resp.into_iter()
        .flat_map(|p| {
            batches(p.records)
                .filter_map(Result::ok)
                .collect::<Vec<_>>()
        })
        .find_map(|b| match b {
            kmirror_protocol::batch::RawBatch::V2(v) if v.last_offset() >= offset => {
                Some(v.base_timestamp())
            }
            _ => None,
        })
}

/// Collects the status lines of every enabled flow.
pub async fn collect(config: &Path) -> anyhow::Result<Vec<Line>> {
    let cfg = match mm2::load(config) {
        Ok(c) => c,
        Err(errs) => bail!(
            "{} error(s) in {}:\n{errs}",
            errs.errors.len(),
            config.display()
        ),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut out = Vec::new();
    for f in cfg.enabled_flows() {
        let plan = FlowPlan::from_config(&cfg, f)?;
        let source =
            Client::connect(plan.source_bootstrap.clone(), plan.source_client.clone()).await?;
        let target =
            Client::connect(plan.target_bootstrap.clone(), plan.target_client.clone()).await?;
        let saved =
            load_progress(&target, &plan.progress.progress_topic, &plan.source_alias).await?;
        let mut tps = Vec::new();
        for (t, meta) in source.list_topics().await? {
            if !meta.is_internal
                && policy::should_replicate_topic(
                    &plan.policy,
                    &plan.topic_filter,
                    &plan.target_alias,
                    &t,
                )
            {
                tps.extend(meta.partitions.keys().map(|p| (t.clone(), *p)));
            }
        }
        let ends = source
            .list_offsets(&tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
            .await?;
        for ((t, p), end) in ends {
            let end = end.unwrap_or(-1);
            let position = saved.get(&(t.clone(), p)).copied();
            // tansu 0.6.0 reports the last batch's base offset + 1 as the end: clamp.
            let lag = (end - position.unwrap_or(0)).max(0);
            let lag_seconds = if lag > 0 {
                match timestamp_at(&source, &t, p, position.unwrap_or(0)).await {
                    Some(ts) => ((now - ts).max(0)) as f64 / 1000.0,
                    None => 0.0,
                }
            } else {
                0.0
            };
            out.push(Line {
                flow: plan.name(),
                remote_topic: plan.policy.format_remote_topic(&plan.source_alias, &t),
                topic: t,
                partition: p,
                position,
                end_offset: end,
                lag_records: lag,
                lag_seconds,
            });
        }
    }
    out.sort_by(|a, b| (&a.flow, &a.topic, a.partition).cmp(&(&b.flow, &b.topic, b.partition)));
    Ok(out)
}

/// Prints the status as a table, or JSON with `json`.
pub async fn run(config: &Path, json: bool) -> anyhow::Result<()> {
    let lines = collect(config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(());
    }
    println!(
        "{:<14} {:<30} {:>9} {:>12} {:>12} {:>10} {:>10}",
        "FLOW", "TOPIC", "PARTITION", "POSITION", "END", "LAG", "LAG_S"
    );
    for l in &lines {
        println!(
            "{:<14} {:<30} {:>9} {:>12} {:>12} {:>10} {:>10.1}",
            l.flow,
            l.topic,
            l.partition,
            l.position.map_or("-".to_owned(), |p| p.to_string()),
            l.end_offset,
            l.lag_records,
            l.lag_seconds
        );
    }
    Ok(())
}
