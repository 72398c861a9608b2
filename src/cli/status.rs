//! `kmirror status CONFIG [--json]`: from outside any running process, how far
//! behind each flow is: saved position, lag in records and in seconds.
//!
//! Reads the source end offsets (ListOffsets) and kmirror's saved progress on
//! each target; lag in seconds is the age of the first record not replicated.
//! With scale-out it also describes each flow's group: members, their
//! partitions and the settings in which their files differ.

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

/// Everything `kmirror status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    /// One line per source partition.
    pub partitions: Vec<Line>,
    /// The scale-out group of each flow that has one on its target.
    pub groups: Vec<GroupView>,
}

/// A flow's scale-out group as its target's coordinator describes it.
#[derive(Debug, Serialize)]
pub struct GroupView {
    /// `source->target`.
    pub flow: String,
    /// `kmirror.source->target`.
    pub group: String,
    /// Coordinator state (`Stable`, `PreparingRebalance`...).
    pub state: String,
    /// Member id of the leader, when the coordinator reports assignments.
    pub leader: Option<String>,
    /// The members.
    pub members: Vec<MemberView>,
}

/// One member of a flow's group.
#[derive(Debug, Serialize)]
pub struct MemberView {
    /// Member id.
    pub member_id: String,
    /// Host the member connected from.
    pub host: String,
    /// Generation of the partitions it runs.
    pub generation: i32,
    /// Source partitions it runs.
    pub partitions: Vec<(String, i32)>,
    /// Settings in which its file differs from the leader's (whose settings
    /// decide); empty when the leader is unknown.
    pub differs_from_leader: Vec<String>,
    /// Settings in which its file differs from the file given to `status`.
    pub differs_from_this_file: Vec<String>,
    /// The coordinator returned the member's metadata (tansu 0.6.0 does not:
    /// then only its id is known).
    pub metadata_reported: bool,
    /// Its metadata could not be read (another kmirror version?).
    pub unreadable: bool,
}

/// Describes `kmirror.{source}->{target}` on the target; `None` when the
/// group does not exist (the flow runs without scale-out, or nothing runs).
async fn group_view(target: &Client, f: &mm2::FlowConfig) -> anyhow::Result<Option<GroupView>> {
    let group = crate::engine::membership::GroupSettings::for_flow(&f.source, &f.target).group_id;
    let Some(d) = target
        .describe_groups(std::slice::from_ref(&group))
        .await?
        .pop()
    else {
        return Ok(None);
    };
    Ok(view(&f.name(), d, &crate::group::config_keys(f)))
}

/// The view of a described group; `mine` are the per-key hashes of the file
/// given to `status`.
fn view(
    flow: &str,
    d: kmirror_protocol::client::api::groups::GroupDescription,
    mine: &std::collections::BTreeMap<String, String>,
) -> Option<GroupView> {
    use crate::group::metadata::{PROTOCOL_TYPE, differing_config_keys};
    use crate::group::{Assignment, MemberMetadata};
    if d.protocol_type != PROTOCOL_TYPE || d.members.is_empty() {
        return None;
    }
    let decoded: Vec<_> = d
        .members
        .iter()
        .map(|m| (m, MemberMetadata::decode(&m.metadata).ok()))
        .collect();
    let leader = d
        .members
        .iter()
        .find_map(|m| Assignment::decode(&m.assignment).ok())
        .map(|a| a.leader_member);
    let leader_keys = leader.as_ref().and_then(|l| {
        decoded
            .iter()
            .find(|(m, _)| &m.member_id == l)
            .and_then(|(_, meta)| meta.as_ref())
            .map(|meta| meta.config_keys.clone())
    });
    let members = decoded
        .into_iter()
        .map(|(m, meta)| {
            let unreadable = meta.is_none() && !m.metadata.is_empty();
            let known = meta.is_some();
            let meta = meta.unwrap_or_default();
            MemberView {
                member_id: m.member_id.clone(),
                host: m.client_host.clone(),
                generation: meta.generation,
                partitions: meta.owned.clone(),
                differs_from_leader: leader_keys
                    .as_ref()
                    .map(|l| differing_config_keys(&meta.config_keys, l))
                    .unwrap_or_default(),
                differs_from_this_file: if known {
                    differing_config_keys(&meta.config_keys, mine)
                } else {
                    Vec::new()
                },
                metadata_reported: known || unreadable,
                unreadable,
            }
        })
        .collect();
    Some(GroupView {
        flow: flow.to_owned(),
        group: d.group_id,
        state: d.state,
        leader,
        members,
    })
}

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

/// Collects the status of every enabled flow.
pub async fn collect(config: &Path) -> anyhow::Result<Status> {
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
    let mut groups = Vec::new();
    for f in cfg.enabled_flows() {
        let plan = FlowPlan::from_config(&cfg, f)?;
        let source =
            Client::connect(plan.source_bootstrap.clone(), plan.source_client.clone()).await?;
        let target =
            Client::connect(plan.target_bootstrap.clone(), plan.target_client.clone()).await?;
        let saved =
            load_progress(&target, &plan.progress.progress_topic, &plan.source_alias).await?;
        groups.extend(group_view(&target, f).await?);
        let mut tps = Vec::new();
        for (t, meta) in source.list_topics().await? {
            if !meta.is_internal
                && policy::should_replicate_topic_with_heartbeats(
                    &plan.policy,
                    &plan.topic_filter,
                    &plan.target_alias,
                    &t,
                    f.heartbeats_replication_enabled,
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
    Ok(Status {
        partitions: out,
        groups,
    })
}

/// Prints the status as a table, or JSON with `json`.
pub async fn run(config: &Path, json: bool) -> anyhow::Result<()> {
    let status = collect(config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    let lines = &status.partitions;
    println!(
        "{:<14} {:<30} {:>9} {:>12} {:>12} {:>10} {:>10}",
        "FLOW", "TOPIC", "PARTITION", "POSITION", "END", "LAG", "LAG_S"
    );
    for l in lines {
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
    for g in &status.groups {
        println!();
        println!(
            "GROUP {} ({}): {}, {} member(s), leader {}",
            g.group,
            g.flow,
            g.state,
            g.members.len(),
            g.leader.as_deref().unwrap_or("unknown")
        );
        for m in &g.members {
            let leader = if g.leader.as_deref() == Some(m.member_id.as_str()) {
                " (leader)"
            } else {
                ""
            };
            println!(
                "  {}{leader} from {}: generation {}, {} partition(s)",
                m.member_id,
                m.host,
                m.generation,
                m.partitions.len()
            );
            if m.unreadable {
                println!("    metadata unreadable (another kmirror version?)");
            } else if !m.metadata_reported {
                println!(
                    "    the coordinator does not report member metadata: partitions and settings unknown"
                );
            }
            if !m.differs_from_leader.is_empty() {
                println!(
                    "    file differs from the leader's (the leader's wins): {}",
                    m.differs_from_leader.join(", ")
                );
            }
            if !m.differs_from_this_file.is_empty() {
                println!(
                    "    file differs from {}: {}",
                    config.display(),
                    m.differs_from_this_file.join(", ")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use kmirror_protocol::client::api::groups::{GroupDescription, MemberDescription};

    use super::view;
    use crate::group::{Assignment, MemberMetadata};

    fn keys(topics: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("topics".to_owned(), topics.to_owned()),
            ("offset.lag.max".to_owned(), "1".to_owned()),
        ])
    }

    fn member(id: &str, topics: &str, owned: &[i32], assignment: Bytes) -> MemberDescription {
        MemberDescription {
            member_id: id.to_owned(),
            group_instance_id: None,
            client_id: "kmirror".to_owned(),
            client_host: "/127.0.0.1".to_owned(),
            metadata: MemberMetadata {
                owned: owned.iter().map(|p| ("t".to_owned(), *p)).collect(),
                generation: 4,
                config_keys: keys(topics),
                ..MemberMetadata::default()
            }
            .encode(),
            assignment,
        }
    }

    #[test]
    fn a_group_view_names_the_leader_and_the_keys_that_differ() {
        let assignment = Assignment {
            version: crate::group::metadata::VERSION,
            generation: 4,
            partitions: vec![("t".to_owned(), 0)],
            leader_member: "m1".to_owned(),
            revoked_pending: false,
            leader_config_keys: keys("aaaa"),
            leader_settings: BTreeMap::new(),
        }
        .encode();
        let d = GroupDescription {
            group_id: "kmirror.A->B".to_owned(),
            state: "Stable".to_owned(),
            protocol_type: "kmirror".to_owned(),
            protocol: "sticky-load".to_owned(),
            members: vec![
                member("m1", "aaaa", &[0], assignment),
                member("m2", "bbbb", &[1, 2], Bytes::new()),
                MemberDescription {
                    metadata: Bytes::from_static(b"{not json"),
                    ..member("m3", "aaaa", &[], Bytes::new())
                },
            ],
        };
        let v = view("A->B", d, &keys("bbbb")).expect("a kmirror group");
        assert_eq!(v.leader.as_deref(), Some("m1"));
        let m = &v.members;
        assert_eq!(m[0].differs_from_leader, Vec::<String>::new());
        assert_eq!(m[0].differs_from_this_file, ["topics"]);
        assert_eq!(m[1].differs_from_leader, ["topics"]);
        assert_eq!(m[1].differs_from_this_file, Vec::<String>::new());
        assert_eq!(m[1].partitions.len(), 2);
        assert!(m[2].unreadable && m[2].metadata_reported);
    }

    #[test]
    fn a_coordinator_without_member_metadata_or_another_protocol_type() {
        let mut d = GroupDescription {
            group_id: "kmirror.A->B".to_owned(),
            state: "Stable".to_owned(),
            protocol_type: "kmirror".to_owned(),
            protocol: String::new(),
            members: vec![MemberDescription {
                metadata: Bytes::new(),
                ..member("m1", "aaaa", &[], Bytes::new())
            }],
        };
        let v = view("A->B", d.clone(), &keys("aaaa")).expect("a kmirror group");
        assert!(!v.members[0].metadata_reported && !v.members[0].unreadable);
        assert_eq!(v.leader, None);
        d.protocol_type = "consumer".to_owned();
        assert!(view("A->B", d, &keys("aaaa")).is_none());
    }
}
