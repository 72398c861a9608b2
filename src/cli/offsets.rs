//! `kmirror offsets CONFIG --source A --target B [--group G] [--json]`: the offsets consumer
//! groups would resume from on the target, read from the flow's checkpoints topic there.
//!
//! The equivalent of MM2's `RemoteClusterUtils.translateOffsets` (`MirrorClient.
//! remoteConsumerOffsets`): read partition 0 of `<source>.checkpoints.internal` on the target
//! to its end and keep the latest checkpoint per group, topic and partition. It works on MM2's
//! checkpoints as well as kmirror's.
//!
//! # References
//! - `mm2-reference.md` §1.1 (checkpoints topic), §2.2 (record), §6.4.
//! - Kafka `RemoteClusterUtils.translateOffsets`, `MirrorClient.remoteConsumerOffsets`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use kmirror_protocol::client::Client;

use crate::config::mm2;
use crate::engine::FlowPlan;
use crate::internal_topics::Checkpoint;
use crate::sync::offsets::read_checkpoints;

/// Prints the translated offsets of flow `source->target` (all groups, or `group`).
pub async fn run(
    config: &Path,
    source: &str,
    target: &str,
    group: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let cfg = match mm2::load(config) {
        Ok(c) => c,
        Err(errs) => bail!(
            "{} has {} error(s):\n{errs}",
            config.display(),
            errs.errors.len()
        ),
    };
    let Some(flow) = cfg.flow(source, target) else {
        bail!(
            "{}: no flow {source}->{target} (aliases must be listed in `clusters`)",
            config.display()
        );
    };
    let plan =
        FlowPlan::from_config(&cfg, flow).with_context(|| format!("in {}", config.display()))?;
    let client = Client::connect(plan.target_bootstrap.clone(), plan.target_client.clone())
        .await
        .with_context(|| format!("connecting to cluster {target}"))?;
    let topic = plan.policy.checkpoints_topic(source);
    let checkpoints: Vec<Checkpoint> = read_checkpoints(&client, &topic)
        .await
        .with_context(|| format!("reading {topic} on cluster {target}"))?
        .into_values()
        .filter(|cp| group.is_none_or(|g| cp.consumer_group_id == g))
        .collect();
    if json {
        println!("{}", render_json(&checkpoints));
    } else {
        if checkpoints.is_empty() {
            eprintln!("no checkpoints in {topic} on cluster {target}");
        }
        print!("{}", render_table(&checkpoints));
    }
    Ok(())
}

/// One JSON array, one object per group-partition: `group`, `topic` (on the target),
/// `partition`, `offset` (to resume from on the target), `upstream_offset`, `metadata`.
pub fn render_json(checkpoints: &[Checkpoint]) -> String {
    let rows: Vec<serde_json::Value> = checkpoints
        .iter()
        .map(|cp| {
            serde_json::json!({
                "group": cp.consumer_group_id,
                "topic": cp.topic,
                "partition": cp.partition,
                "offset": cp.downstream_offset,
                "upstream_offset": cp.upstream_offset,
                "metadata": cp.metadata,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// An aligned table with a header line: GROUP TOPIC PARTITION OFFSET UPSTREAM-OFFSET METADATA.
pub fn render_table(checkpoints: &[Checkpoint]) -> String {
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "OFFSET",
        "UPSTREAM-OFFSET",
        "METADATA",
    ];
    let rows: Vec<[String; 6]> = checkpoints
        .iter()
        .map(|cp| {
            [
                cp.consumer_group_id.clone(),
                cp.topic.clone(),
                cp.partition.to_string(),
                cp.downstream_offset.to_string(),
                cp.upstream_offset.to_string(),
                cp.metadata.clone(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for r in &rows {
        line(&r.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(group: &str, partition: i32, offset: i64) -> Checkpoint {
        Checkpoint {
            consumer_group_id: group.into(),
            topic: "A.orders".into(),
            partition,
            upstream_offset: offset + 5,
            downstream_offset: offset,
            metadata: String::new(),
        }
    }

    #[test]
    fn table_is_aligned_with_a_header() {
        let t = render_table(&[cp("g1", 0, 7), cp("group-two", 11, 1234)]);
        assert_eq!(
            t,
            "GROUP      TOPIC     PARTITION  OFFSET  UPSTREAM-OFFSET  METADATA\n\
             g1         A.orders  0          7       12\n\
             group-two  A.orders  11         1234    1239\n"
        );
        assert_eq!(
            render_table(&[]),
            "GROUP  TOPIC  PARTITION  OFFSET  UPSTREAM-OFFSET  METADATA\n"
        );
    }

    #[test]
    fn json_has_one_object_per_partition() {
        let j: serde_json::Value = serde_json::from_str(&render_json(&[cp("g1", 3, 990)])).unwrap();
        assert_eq!(
            j,
            serde_json::json!([{"group": "g1", "topic": "A.orders", "partition": 3,
                "offset": 990, "upstream_offset": 995, "metadata": ""}])
        );
    }
}
