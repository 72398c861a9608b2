//! Consumer groups: coordinator lookup, offset commit/fetch, listing and
//! describing groups, group membership for scale-out, and cluster description.
//!
//! # References
//! - Kafka protocol guide, "Group membership API"; KIP-394 (`MEMBER_ID_REQUIRED`),
//!   KIP-699 (batched FindCoordinator v4), KIP-700 (DescribeCluster);
//!   Kafka `AbstractCoordinator` (JoinGroup timeout = rebalance timeout + 5 s).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::cluster::check_code;
use crate::client::conn::{ConnConfig, Connection};
use crate::client::error::{ConnError, tp_name};
use crate::client::{Client, ClientError};
use crate::error::{CodecError, ResponseError};

/// Added to the rebalance timeout to get a JoinGroup's request timeout (Kafka
/// `AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE`).
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// Which coordinator [`Client::find_coordinator`] looks up (FindCoordinator `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorType {
    /// Group coordinator; the key is a group id (0).
    Group,
    /// Transaction coordinator; the key is a transactional id (1).
    Transaction,
}

impl CoordinatorType {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
        }
    }
}

/// A committed offset of one partition, from [`Client::offset_fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset (the next record to consume).
    pub offset: i64,
    /// Metadata stored with the commit (empty when none).
    pub metadata: String,
    /// Leader epoch stored with the commit (-1 when unknown).
    pub leader_epoch: i32,
}

/// A group as [`Client::list_groups`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// `consumer`, `connect`..., empty for groups that only commit offsets.
    pub protocol_type: String,
    /// Group state (`Stable`, `Empty`...), from ListGroups v4+ only.
    pub state: Option<String>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id given by the coordinator.
    pub member_id: String,
    /// Static membership id (KIP-345), if any.
    pub group_instance_id: Option<String>,
    /// `client.id` of the member.
    pub client_id: String,
    /// Host the member connects from.
    pub client_host: String,
    /// The member's protocol metadata (for consumers: its subscription).
    pub metadata: Bytes,
    /// The member's assignment (for consumers: its partitions).
    pub assignment: Bytes,
}

/// A group as [`Client::describe_groups`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance` or `Dead`.
    pub state: String,
    /// `consumer`, `connect`..., empty when the group has no members.
    pub protocol_type: String,
    /// Chosen protocol (for consumers: the assignor), empty when none.
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// What a successful JoinGroup returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    /// Generation of the group; pass it to sync, heartbeat and commits.
    pub generation_id: i32,
    /// Protocol the coordinator chose from the members' lists.
    pub protocol_name: String,
    /// Member id of the leader, which computes the assignment.
    pub leader: String,
    /// Our member id; reuse it when re-joining.
    pub member_id: String,
    /// All members and their protocol metadata (only the leader gets them).
    pub members: Vec<(String, Bytes)>,
}

impl JoinResult {
    /// True when we are the leader and must send the assignments.
    pub fn is_leader(&self) -> bool {
        self.leader == self.member_id
    }
}

/// A cluster as [`Client::describe_cluster`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id (`None` from old brokers without one).
    pub cluster_id: Option<String>,
    /// Controller broker id (-1 when unknown; any broker under KRaft).
    pub controller_id: i32,
    /// Brokers as `(id, host, port, rack)`.
    pub brokers: Vec<(i32, String, i32, Option<String>)>,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn group_resource(group: &str) -> String {
    format!("group {group}")
}

fn coordinator_resource(key: &str, key_type: CoordinatorType) -> String {
    match key_type {
        CoordinatorType::Group => group_resource(key),
        CoordinatorType::Transaction => format!("transactional id {key}"),
    }
}

/// Errors about the coordinator itself, reported per partition by
/// OffsetCommit but meaning the whole request must be re-routed.
fn is_coordinator_error(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(
            ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::CoordinatorLoadInProgress
        )
    )
}

/// The FindCoordinator request at `version`: the batched `coordinator_keys`
/// form from v4, the single `key` form before; `None` when v0 cannot express
/// a transaction coordinator.
fn find_coordinator_request(
    version: i16,
    key: &str,
    key_type: CoordinatorType,
) -> Option<FindCoordinatorRequest> {
    let req = FindCoordinatorRequest::default();
    if version >= 4 {
        Some(
            req.with_key_type(key_type.code())
                .with_coordinator_keys(vec![s(key)]),
        )
    } else if version >= 1 {
        Some(req.with_key(s(key)).with_key_type(key_type.code()))
    } else if key_type == CoordinatorType::Group {
        Some(req.with_key(s(key)))
    } else {
        None
    }
}

/// The OffsetCommit request, one entry per topic in first-seen order.
fn offset_commit_request(
    group: &str,
    generation_id: i32,
    member_id: &str,
    offsets: &[(String, i32, i64, Option<String>)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (topic, partition, offset, metadata) in offsets {
        let p = OffsetCommitRequestPartition::default()
            .with_partition_index(*partition)
            .with_committed_offset(*offset)
            .with_committed_leader_epoch(-1)
            .with_committed_metadata(metadata.as_deref().map(s));
        match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(vec![p]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation_id)
        .with_member_id(s(member_id))
        .with_group_instance_id(None)
        // -1: the broker's offsets.retention.minutes (v2-v4 only).
        .with_retention_time_ms(-1)
        .with_topics(topics)
}

/// The OffsetFetch request (single-group form, v1-v7) for `topics` with
/// their partitions, or for all topics (`None`, v2+).
fn offset_fetch_request(group: &str, topics: Option<&[(String, Vec<i32>)]>) -> OffsetFetchRequest {
    OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partition_indexes(ps.clone())
                })
                .collect()
        }))
        .with_require_stable(false)
}

/// The JoinGroup request.
fn join_group_request(
    group: &str,
    member_id: &str,
    protocol_type: &str,
    protocols: &[(String, Bytes)],
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(session_timeout_ms)
        .with_rebalance_timeout_ms(rebalance_timeout_ms)
        .with_member_id(s(member_id))
        .with_protocol_type(s(protocol_type))
        .with_protocols(
            protocols
                .iter()
                .map(|(name, metadata)| {
                    JoinGroupRequestProtocol::default()
                        .with_name(s(name))
                        .with_metadata(metadata.clone())
                })
                .collect(),
        )
}

/// The LeaveGroup request at `version`: a `members` array from v3, the single
/// `member_id` before.
fn leave_group_request(version: i16, group: &str, member_id: &str) -> LeaveGroupRequest {
    let req = LeaveGroupRequest::default().with_group_id(GroupId(s(group)));
    if version >= 3 {
        req.with_members(vec![MemberIdentity::default().with_member_id(s(member_id))])
    } else {
        req.with_member_id(s(member_id))
    }
}

impl Client {
    /// The broker id of the coordinator for `key`, retrying while the broker
    /// answers `COORDINATOR_NOT_AVAILABLE` (as it does while
    /// `__consumer_offsets` is being created).
    pub async fn find_coordinator(
        &self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Result<i32, ClientError> {
        Ok(self.coordinator(key, key_type).await?.0)
    }

    /// Coordinator id and `host:port`, with retries.
    async fn coordinator(
        &self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Result<(i32, String), ClientError> {
        self.retry(&[], move || self.coordinator_once(key, key_type))
            .await
    }

    async fn coordinator_once(
        &self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Result<(i32, String), ClientError> {
        let conn = self.any_conn().await?;
        let version = conn.version_for(ApiKey::FindCoordinator)?;
        let broker = conn.broker().to_owned();
        let req = find_coordinator_request(version, key, key_type).ok_or_else(|| {
            ConnError::NoVersionMatch {
                broker: broker.clone(),
                api: ApiKey::FindCoordinator,
            }
        })?;
        let resp = conn.send_version(version, &req).await?;
        let resource = || Some(coordinator_resource(key, key_type));
        if version >= 4 {
            let c = resp
                .coordinators
                .iter()
                .find(|c| c.key.as_str() == key)
                .ok_or_else(|| ClientError::MissingInResponse {
                    api: ApiKey::FindCoordinator,
                    resource: coordinator_resource(key, key_type),
                })?;
            check_code::<FindCoordinatorRequest>(
                c.error_code,
                &broker,
                resource,
                c.error_message.as_ref(),
            )?;
            Ok((c.node_id.0, format!("{}:{}", c.host.as_str(), c.port)))
        } else {
            check_code::<FindCoordinatorRequest>(
                resp.error_code,
                &broker,
                resource,
                resp.error_message.as_ref(),
            )?;
            Ok((
                resp.node_id.0,
                format!("{}:{}", resp.host.as_str(), resp.port),
            ))
        }
    }

    /// The connection to the coordinator of `group`.
    async fn group_conn(&self, group: &str) -> Result<Arc<Connection>, ClientError> {
        let (_, addr) = self.coordinator(group, CoordinatorType::Group).await?;
        Ok(self.conn_to(&addr).await?)
    }

    /// Commits offsets for `group`, one result per input entry in order. For
    /// standalone commits (MM2 checkpoints, no membership) pass generation -1
    /// and an empty member id. Coordinator moves are retried; every other
    /// error is reported per partition.
    pub async fn offset_commit(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        offsets: &[(String, i32, i64, Option<String>)],
    ) -> Result<Vec<(String, i32, Result<(), ClientError>)>, ClientError> {
        if offsets.is_empty() {
            return Ok(Vec::new());
        }
        self.retry(&[], move || {
            self.offset_commit_once(group, generation_id, member_id, offsets)
        })
        .await
    }

    async fn offset_commit_once(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        offsets: &[(String, i32, i64, Option<String>)],
    ) -> Result<Vec<(String, i32, Result<(), ClientError>)>, ClientError> {
        let conn = self.group_conn(group).await?;
        // Capped at what OffsetCommitRequest encodes (v9; ApiKey lists v10)
        // by versions::ours, as every API is.
        let version = conn.version_for(ApiKey::OffsetCommit)?;
        let req = offset_commit_request(group, generation_id, member_id, offsets);
        let resp = conn.send_version(version, &req).await?;
        let broker = conn.broker();
        let mut out = Vec::with_capacity(offsets.len());
        for (topic, partition, _, _) in offsets {
            let resource = || {
                Some(format!(
                    "{} of {}",
                    tp_name(topic, *partition),
                    group_resource(group)
                ))
            };
            let res = match resp
                .topics
                .iter()
                .filter(|t| t.name.0.as_str() == topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == *partition)
            {
                Some(p) => check_code::<OffsetCommitRequest>(p.error_code, broker, resource, None),
                None => Err(ClientError::MissingInResponse {
                    api: ApiKey::OffsetCommit,
                    resource: resource().unwrap_or_default(),
                }),
            };
            if let Err(e) = &res
                && is_coordinator_error(e)
            {
                return Err(e.clone());
            }
            out.push((topic.clone(), *partition, res));
        }
        Ok(out)
    }

    /// Committed offsets of `group`, for all topics (`None`) or the named
    /// ones. Partitions without a committed offset are left out; partitions
    /// the broker reports an error for are logged and left out, as Kafka's
    /// admin client does, except `UNSTABLE_OFFSET_COMMIT`, which is retried.
    /// Named topics are asked for partition by partition, from fresh metadata.
    pub async fn offset_fetch(
        &self,
        group: &str,
        topics: Option<&[String]>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        if topics.is_some_and(|ts| ts.is_empty()) {
            return Ok(Vec::new());
        }
        self.retry(&[], move || self.offset_fetch_once(group, topics))
            .await
    }

    /// Partitions of `topics` (`None` = every topic) from fresh metadata;
    /// topics the metadata does not know are left out.
    async fn topic_partitions(
        &self,
        topics: Option<&[String]>,
    ) -> Result<Vec<(String, Vec<i32>)>, ClientError> {
        let resp = self.refresh_metadata(topics).await?;
        Ok(resp
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.as_str().to_owned();
                Some((
                    name,
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                ))
            })
            .collect())
    }

    async fn offset_fetch_once(
        &self,
        group: &str,
        topics: Option<&[String]>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let conn = self.group_conn(group).await?;
        // versions::our_max caps OffsetFetch at v7: the single-group form.
        let version = conn.version_for(ApiKey::OffsetFetch)?;
        let explicit = match topics {
            Some(ts) => Some(self.topic_partitions(Some(ts)).await?),
            // v1 cannot ask for all topics (null `topics` is v2+).
            None if version < 2 => Some(self.topic_partitions(None).await?),
            None => None,
        };
        let first = self
            .offset_fetch_send(&conn, version, group, explicit.as_deref())
            .await;
        match first {
            Err(ClientError::Conn(ConnError::Codec { source, .. }))
                if explicit.is_none() && matches!(*source, CodecError::Decode { .. }) =>
            {
                // tansu 0.6.0 answers the all-topics form (null `topics`) of
                // OffsetFetch v2-v7 with a truncated body, while naming the
                // partitions works: ask for every topic in the metadata.
                tracing::debug!(group, "all-topics OffsetFetch undecodable; naming topics");
                let all = self.topic_partitions(None).await?;
                self.offset_fetch_send(&conn, version, group, Some(&all))
                    .await
            }
            other => other,
        }
    }

    /// One OffsetFetch (single-group form) for `topics` (`None` = all).
    async fn offset_fetch_send(
        &self,
        conn: &Connection,
        version: i16,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let req = offset_fetch_request(group, topics);
        let resp = conn.send_version(version, &req).await?;
        let broker = conn.broker();
        check_code::<OffsetFetchRequest>(
            resp.error_code,
            broker,
            || Some(group_resource(group)),
            None,
        )?;
        let mut out = Vec::new();
        for t in &resp.topics {
            let topic = t.name.0.as_str();
            for p in &t.partitions {
                let resource = || {
                    Some(format!(
                        "{} of {}",
                        tp_name(topic, p.partition_index),
                        group_resource(group)
                    ))
                };
                if let Err(e) =
                    check_code::<OffsetFetchRequest>(p.error_code, broker, resource, None)
                {
                    if e.code() == Some(ResponseError::UnstableOffsetCommit) {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, "skipping committed offset");
                    continue;
                }
                if p.committed_offset < 0 {
                    continue;
                }
                out.push(CommittedOffset {
                    topic: topic.to_owned(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    metadata: p
                        .metadata
                        .as_ref()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default(),
                    leader_epoch: p.committed_leader_epoch,
                });
            }
        }
        Ok(out)
    }

    /// Every group of the cluster: ListGroups goes to every broker, as each
    /// lists only the groups it coordinates. Fails if any broker fails.
    pub async fn list_groups(&self) -> Result<Vec<ListedGroup>, ClientError> {
        let mut brokers = self.brokers();
        if brokers.is_empty() {
            self.refresh_metadata(Some(&[])).await?;
            brokers = self.brokers();
        }
        let mut out: Vec<ListedGroup> = Vec::new();
        for addr in brokers.values() {
            let groups = self.retry(&[], move || self.list_groups_on(addr)).await?;
            for g in groups {
                if !out.iter().any(|o| o.group_id == g.group_id) {
                    out.push(g);
                }
            }
        }
        Ok(out)
    }

    async fn list_groups_on(&self, addr: &str) -> Result<Vec<ListedGroup>, ClientError> {
        let conn = self.conn_to(addr).await?;
        let version = conn.version_for(ApiKey::ListGroups)?;
        let resp = conn
            .send_version(version, &ListGroupsRequest::default())
            .await?;
        check_code::<ListGroupsRequest>(resp.error_code, conn.broker(), || None, None)?;
        Ok(resp
            .groups
            .iter()
            .map(|g| ListedGroup {
                group_id: g.group_id.0.as_str().to_owned(),
                protocol_type: g.protocol_type.as_str().to_owned(),
                state: (version >= 4).then(|| g.group_state.as_str().to_owned()),
            })
            .collect())
    }

    /// Describes `groups` (in the order given), asking each group's
    /// coordinator. A group that does not exist is reported in state `Dead`
    /// with no members, whatever the broker version (v6 brokers answer
    /// `GROUP_ID_NOT_FOUND`, older ones `Dead`).
    pub async fn describe_groups(
        &self,
        groups: &[String],
    ) -> Result<Vec<GroupDescription>, ClientError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        self.retry(&[], move || self.describe_groups_once(groups))
            .await
    }

    async fn describe_groups_once(
        &self,
        groups: &[String],
    ) -> Result<Vec<GroupDescription>, ClientError> {
        let mut by_coordinator: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for g in groups {
            let (_, addr) = self.coordinator(g, CoordinatorType::Group).await?;
            by_coordinator.entry(addr).or_default().push(g);
        }
        let mut found: Vec<GroupDescription> = Vec::with_capacity(groups.len());
        for (addr, gs) in by_coordinator {
            let conn = self.conn_to(&addr).await?;
            let req = DescribeGroupsRequest::default()
                .with_groups(gs.iter().map(|g| GroupId(s(g))).collect());
            let resp = conn.send(&req).await?;
            for d in &resp.groups {
                let group_id = d.group_id.0.as_str().to_owned();
                if ResponseError::try_from_code(d.error_code)
                    == Some(ResponseError::GroupIdNotFound)
                {
                    found.push(GroupDescription {
                        group_id,
                        state: "Dead".to_owned(),
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    });
                    continue;
                }
                check_code::<DescribeGroupsRequest>(
                    d.error_code,
                    conn.broker(),
                    || Some(group_resource(&group_id)),
                    d.error_message.as_ref(),
                )?;
                found.push(GroupDescription {
                    group_id,
                    state: d.group_state.as_str().to_owned(),
                    protocol_type: d.protocol_type.as_str().to_owned(),
                    protocol: d.protocol_data.as_str().to_owned(),
                    members: d
                        .members
                        .iter()
                        .map(|m| MemberDescription {
                            member_id: m.member_id.as_str().to_owned(),
                            group_instance_id: m
                                .group_instance_id
                                .as_ref()
                                .map(|i| i.as_str().to_owned()),
                            client_id: m.client_id.as_str().to_owned(),
                            client_host: m.client_host.as_str().to_owned(),
                            metadata: m.member_metadata.clone(),
                            assignment: m.member_assignment.clone(),
                        })
                        .collect(),
                });
            }
        }
        groups
            .iter()
            .map(|g| {
                found
                    .iter()
                    .find(|d| &d.group_id == g)
                    .cloned()
                    .ok_or_else(|| ClientError::MissingInResponse {
                        api: ApiKey::DescribeGroups,
                        resource: group_resource(g),
                    })
            })
            .collect()
    }

    /// Joins `group` (empty `member_id` on the first join). A first join is
    /// answered `MEMBER_ID_REQUIRED` with an id to use (KIP-394); it is sent
    /// again once with that id. The request waits for the rebalance, so when
    /// `rebalance_timeout_ms` + 5 s exceeds the request timeout it goes over a
    /// dedicated connection with that longer timeout, as Kafka's client does.
    /// Coordinator moves are retried; `REBALANCE_IN_PROGRESS`,
    /// `UNKNOWN_MEMBER_ID` and the like are the caller's to handle.
    pub async fn join_group(
        &self,
        group: &str,
        member_id: &str,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
        session_timeout_ms: i32,
        rebalance_timeout_ms: i32,
    ) -> Result<JoinResult, ClientError> {
        self.retry(&[], move || {
            self.join_group_once(
                group,
                member_id,
                protocol_type,
                protocols,
                session_timeout_ms,
                rebalance_timeout_ms,
            )
        })
        .await
    }

    async fn join_group_once(
        &self,
        group: &str,
        member_id: &str,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
        session_timeout_ms: i32,
        rebalance_timeout_ms: i32,
    ) -> Result<JoinResult, ClientError> {
        let (_, addr) = self.coordinator(group, CoordinatorType::Group).await?;
        let needed = Duration::from_millis(u64::try_from(rebalance_timeout_ms).unwrap_or(0))
            + JOIN_GROUP_TIMEOUT_LAPSE;
        let conn = if needed > self.config().conn.request_timeout {
            let config = ConnConfig {
                request_timeout: needed,
                ..self.config().conn.clone()
            };
            Arc::new(Connection::connect(self.config().connector.as_ref(), &addr, config).await?)
        } else {
            self.conn_to(&addr).await?
        };
        let version = conn.version_for(ApiKey::JoinGroup)?;
        let mut req = join_group_request(
            group,
            member_id,
            protocol_type,
            protocols,
            session_timeout_ms,
            rebalance_timeout_ms,
        );
        let mut resp = conn.send_version(version, &req).await?;
        if ResponseError::try_from_code(resp.error_code) == Some(ResponseError::MemberIdRequired)
            && !resp.member_id.is_empty()
        {
            req = req.with_member_id(resp.member_id.clone());
            resp = conn.send_version(version, &req).await?;
        }
        check_code::<JoinGroupRequest>(
            resp.error_code,
            conn.broker(),
            || Some(group_resource(group)),
            None,
        )?;
        Ok(JoinResult {
            generation_id: resp.generation_id,
            protocol_name: resp
                .protocol_name
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            leader: resp.leader.as_str().to_owned(),
            member_id: resp.member_id.as_str().to_owned(),
            members: resp
                .members
                .iter()
                .map(|m| (m.member_id.as_str().to_owned(), m.metadata.clone()))
                .collect(),
        })
    }

    /// Completes a rebalance: the leader sends every member's assignment,
    /// followers send none; each gets back its own assignment.
    pub async fn sync_group(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        protocol_type: &str,
        protocol_name: &str,
        assignments: &[(String, Bytes)],
    ) -> Result<Bytes, ClientError> {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation_id)
            .with_member_id(s(member_id))
            // v5+ only; older versions leave them out.
            .with_protocol_type(Some(s(protocol_type)))
            .with_protocol_name(Some(s(protocol_name)))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(s(m))
                            .with_assignment(a.clone())
                    })
                    .collect(),
            );
        let req = &req;
        self.retry(&[], move || async move {
            let conn = self.group_conn(group).await?;
            let resp = conn.send(req).await?;
            check_code::<SyncGroupRequest>(
                resp.error_code,
                conn.broker(),
                || Some(group_resource(group)),
                None,
            )?;
            Ok(resp.assignment)
        })
        .await
    }

    /// Tells the coordinator the member is alive. Not retried: the next
    /// heartbeat is the retry. `REBALANCE_IN_PROGRESS` means re-join.
    pub async fn heartbeat(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
    ) -> Result<(), ClientError> {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation_id)
            .with_member_id(s(member_id));
        let conn = self.group_conn(group).await?;
        let resp = conn.send(&req).await?;
        check_code::<HeartbeatRequest>(
            resp.error_code,
            conn.broker(),
            || Some(group_resource(group)),
            None,
        )
    }

    /// Leaves `group` so it rebalances at once instead of after the session
    /// timeout.
    pub async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), ClientError> {
        self.retry(&[], move || async move {
            let conn = self.group_conn(group).await?;
            let version = conn.version_for(ApiKey::LeaveGroup)?;
            let req = leave_group_request(version, group, member_id);
            let resp = conn.send_version(version, &req).await?;
            let resource = || Some(format!("member {member_id} of {}", group_resource(group)));
            check_code::<LeaveGroupRequest>(resp.error_code, conn.broker(), resource, None)?;
            for m in &resp.members {
                check_code::<LeaveGroupRequest>(m.error_code, conn.broker(), resource, None)?;
            }
            Ok(())
        })
        .await
    }

    /// Cluster id, controller and brokers: DescribeCluster when the broker
    /// speaks it (Kafka 2.8+), else Metadata (which also refreshes the cache).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, ClientError> {
        let conn = self.any_conn().await?;
        if let Some(version) = conn.versions().version(ApiKey::DescribeCluster) {
            let resp = conn
                .send_version(version, &DescribeClusterRequest::default())
                .await?;
            check_code::<DescribeClusterRequest>(
                resp.error_code,
                conn.broker(),
                || None,
                resp.error_message.as_ref(),
            )?;
            return Ok(ClusterDescription {
                cluster_id: Some(resp.cluster_id.as_str().to_owned()),
                controller_id: resp.controller_id.0,
                brokers: resp
                    .brokers
                    .iter()
                    .map(|b| {
                        (
                            b.broker_id.0,
                            b.host.as_str().to_owned(),
                            b.port,
                            b.rack.as_ref().map(|r| r.as_str().to_owned()),
                        )
                    })
                    .collect(),
            });
        }
        let resp = self.refresh_metadata(Some(&[])).await?;
        Ok(ClusterDescription {
            cluster_id: resp.cluster_id.as_ref().map(|c| c.as_str().to_owned()),
            controller_id: resp.controller_id.0,
            brokers: resp
                .brokers
                .iter()
                .map(|b| {
                    (
                        b.node_id.0,
                        b.host.as_str().to_owned(),
                        b.port,
                        b.rack.as_ref().map(|r| r.as_str().to_owned()),
                    )
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    #[test]
    fn coordinator_type_codes_are_kafka_key_types() {
        assert_eq!(CoordinatorType::Group.code(), 0);
        assert_eq!(CoordinatorType::Transaction.code(), 1);
    }

    #[test]
    fn find_coordinator_uses_batch_form_from_v4() {
        for version in 0..=6 {
            let req = find_coordinator_request(version, "g", CoordinatorType::Group);
            let Some(req) = req else {
                panic!("v{version} must express a group lookup");
            };
            if version >= 4 {
                assert!(req.key.is_empty());
                assert_eq!(req.coordinator_keys.len(), 1);
            } else {
                assert_eq!(req.key.as_str(), "g");
                assert!(req.coordinator_keys.is_empty());
            }
            let mut buf = bytes::BytesMut::new();
            assert!(req.encode(&mut buf, version).is_ok(), "v{version} encodes");
        }
    }

    #[test]
    fn find_transaction_coordinator_needs_v1() {
        assert!(find_coordinator_request(0, "tx", CoordinatorType::Transaction).is_none());
        let req = find_coordinator_request(1, "tx", CoordinatorType::Transaction);
        assert_eq!(req.map(|r| r.key_type), Some(1));
    }

    #[test]
    fn leave_group_shape_follows_version() {
        for version in 0..=5 {
            let req = leave_group_request(version, "g", "m-1");
            if version >= 3 {
                assert!(req.member_id.is_empty());
                assert_eq!(req.members.len(), 1);
                assert_eq!(req.members[0].member_id.as_str(), "m-1");
            } else {
                assert_eq!(req.member_id.as_str(), "m-1");
                assert!(req.members.is_empty());
            }
            let mut buf = bytes::BytesMut::new();
            assert!(req.encode(&mut buf, version).is_ok(), "v{version} encodes");
        }
    }

    #[test]
    fn offset_commit_groups_partitions_by_topic_in_order() {
        let offsets = vec![
            ("b".to_owned(), 0, 10, None),
            ("a".to_owned(), 1, 20, Some("m".to_owned())),
            ("b".to_owned(), 2, 30, None),
        ];
        let req = offset_commit_request("g", -1, "", &offsets);
        assert_eq!(req.generation_id_or_member_epoch, -1);
        assert!(req.member_id.is_empty());
        let names: Vec<&str> = req.topics.iter().map(|t| t.name.0.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        let b: Vec<(i32, i64)> = req.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset))
            .collect();
        assert_eq!(b, [(0, 10), (2, 30)]);
        assert_eq!(
            req.topics[1].partitions[0]
                .committed_metadata
                .as_ref()
                .map(|m| m.as_str()),
            Some("m")
        );
        for version in 2..=OffsetCommitRequest::VERSIONS.max {
            let mut buf = bytes::BytesMut::new();
            assert!(req.encode(&mut buf, version).is_ok(), "v{version} encodes");
        }
    }

    #[test]
    fn join_request_encodes_at_every_version() {
        let req = join_group_request(
            "g",
            "",
            "consumer",
            &[("range".to_owned(), Bytes::from_static(b"\x00\x01"))],
            10_000,
            60_000,
        );
        for version in 0..=9 {
            let mut buf = bytes::BytesMut::new();
            assert!(req.encode(&mut buf, version).is_ok(), "v{version} encodes");
        }
    }

    #[test]
    fn join_result_knows_its_leader() {
        let r = JoinResult {
            generation_id: 1,
            protocol_name: "range".into(),
            leader: "m-1".into(),
            member_id: "m-1".into(),
            members: Vec::new(),
        };
        assert!(r.is_leader());
    }
}
