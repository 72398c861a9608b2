//! ListOffsets: earliest, latest or by-timestamp offsets, routed per leader.
//!
//! # References
//! - Kafka protocol guide: ListOffsets; KIP-98 (isolation level, v2+).

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::fetch::IsolationLevel;
use crate::client::cluster::check_code;
use crate::client::error::tp_name;
use crate::client::{Client, ClientError};

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// Log start offset.
    Earliest,
    /// High watermark (or last stable offset under read_committed).
    Latest,
    /// First offset with a timestamp at or after this (ms).
    Timestamp(i64),
}

impl OffsetSpec {
    fn timestamp(self) -> i64 {
        match self {
            Self::Earliest => -2,
            Self::Latest => -1,
            Self::Timestamp(t) => t,
        }
    }
}

/// Result per topic-partition.
pub type OffsetResults = Vec<((String, i32), Result<i64, ClientError>)>;

impl Client {
    /// Looks up offsets for many partitions, one request per leader.
    pub async fn list_offsets(
        &self,
        partitions: &[(String, i32)],
        spec: OffsetSpec,
        isolation: IsolationLevel,
    ) -> Result<OffsetResults, ClientError> {
        let mut by_leader: BTreeMap<i32, Vec<&(String, i32)>> = BTreeMap::new();
        let mut out = Vec::new();
        for tp in partitions {
            match self.leader(&tp.0, tp.1).await {
                Ok(l) => by_leader.entry(l).or_default().push(tp),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        for (leader, tps) in by_leader {
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            for (t, p) in &tps {
                let part = ListOffsetsPartition::default()
                    .with_partition_index(*p)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(spec.timestamp());
                match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(
                        ListOffsetsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.clone())))
                            .with_partitions(vec![part]),
                    ),
                }
            }
            let req = ListOffsetsRequest::default()
                .with_replica_id((-1).into())
                .with_isolation_level(isolation as i8)
                .with_topics(topics);
            let conn = match self.broker_conn(leader).await {
                Ok(c) => c,
                Err(e) => {
                    out.extend(tps.into_iter().map(|tp| (tp.clone(), Err(e.clone()))));
                    continue;
                }
            };
            let resp = match conn.send(&req).await {
                Ok(r) => r,
                Err(e) => {
                    let e = ClientError::from(e);
                    out.extend(tps.into_iter().map(|tp| (tp.clone(), Err(e.clone()))));
                    continue;
                }
            };
            for (t, p) in tps {
                let r = resp
                    .topics
                    .iter()
                    .filter(|x| x.name.0.as_str() == t)
                    .flat_map(|x| x.partitions.iter())
                    .find(|x| x.partition_index == *p);
                let r = match r {
                    Some(x) => check_code::<ListOffsetsRequest>(
                        x.error_code,
                        conn.broker(),
                        || Some(tp_name(t, *p)),
                        None,
                    )
                    .map(|()| x.offset),
                    None => Err(ClientError::MissingInResponse {
                        api: kafka_protocol::messages::ApiKey::ListOffsets,
                        resource: tp_name(t, *p),
                    }),
                };
                out.push(((t.clone(), *p), r));
            }
        }
        Ok(out)
    }
}
