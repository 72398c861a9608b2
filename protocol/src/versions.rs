//! Which version of each API we speak, and the ApiVersions exchange itself.
//!
//! Our range per API is kafka-protocol's `ApiKey` range, intersected with what
//! its request type can actually encode (`Request::VERSIONS`; the two differ,
//! e.g. InitProducerId 0-6 vs 0-5, OffsetCommit 2-10 vs 2-9), capped where a
//! newer version changes shape in a way our helpers do not handle, then
//! intersected with the broker's ApiVersions answer.
//!
//! ApiVersions is negotiated like Kafka's Java client: we send v3; a broker
//! that lacks it (Kafka < 2.4) answers UNSUPPORTED_VERSION (35) in a **v0**
//! body, so a v3 decode failure (or error 35) is retried as v0, and the
//! request is sent again at the highest ApiVersions version the broker
//! listed (v0 if it listed none).
//!
//! # References
//! - KIP-511 (ApiVersions v3), KIP-516 (topic ids in Fetch v13+ / Produce v13).
//! - Java: `ApiVersionsResponse.parse` (fallback to v0) and
//!   `NetworkClient.handleApiVersionsResponse` (retry at the listed max).

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Message, VersionRange};

use crate::codec::decode_response;
use crate::error::CodecError;

/// The ApiVersions version sent first (v3: flexible, carries KIP-511's
/// client software name and version).
pub const API_VERSIONS_FIRST: i16 = 3;

/// UNSUPPORTED_VERSION.
const UNSUPPORTED_VERSION: i16 = 35;

/// Our highest version for APIs whose newer versions we do not speak.
pub fn our_max(api: ApiKey) -> Option<i16> {
    Some(match api {
        // v13+ address topics by id only; we route by name.
        ApiKey::Fetch => 12,
        ApiKey::Produce => 12,
        // v8+ batch several groups per request with another shape.
        ApiKey::OffsetFetch => 7,
        _ => return None,
    })
}

/// The versions kafka-protocol's request type for `api` can encode (its
/// `Message::VERSIONS`), which may be narrower than `ApiKey::valid_versions`.
pub fn encodable(api: ApiKey) -> VersionRange {
    use kafka_protocol::messages::*;
    macro_rules! requests {
        ($($key:ident => $req:ident,)*) => {
            match api {
                $(ApiKey::$key => <$req as Message>::VERSIONS,)*
            }
        };
    }
    requests! {
        Produce => ProduceRequest,
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        SyncGroup => SyncGroupRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        SaslHandshake => SaslHandshakeRequest,
        ApiVersions => ApiVersionsRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        DeleteRecords => DeleteRecordsRequest,
        InitProducerId => InitProducerIdRequest,
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
        AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest,
        EndTxn => EndTxnRequest,
        WriteTxnMarkers => WriteTxnMarkersRequest,
        TxnOffsetCommit => TxnOffsetCommitRequest,
        DescribeAcls => DescribeAclsRequest,
        CreateAcls => CreateAclsRequest,
        DeleteAcls => DeleteAclsRequest,
        DescribeConfigs => DescribeConfigsRequest,
        AlterConfigs => AlterConfigsRequest,
        AlterReplicaLogDirs => AlterReplicaLogDirsRequest,
        DescribeLogDirs => DescribeLogDirsRequest,
        SaslAuthenticate => SaslAuthenticateRequest,
        CreatePartitions => CreatePartitionsRequest,
        CreateDelegationToken => CreateDelegationTokenRequest,
        RenewDelegationToken => RenewDelegationTokenRequest,
        ExpireDelegationToken => ExpireDelegationTokenRequest,
        DescribeDelegationToken => DescribeDelegationTokenRequest,
        DeleteGroups => DeleteGroupsRequest,
        ElectLeaders => ElectLeadersRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
        ListPartitionReassignments => ListPartitionReassignmentsRequest,
        OffsetDelete => OffsetDeleteRequest,
        DescribeClientQuotas => DescribeClientQuotasRequest,
        AlterClientQuotas => AlterClientQuotasRequest,
        DescribeUserScramCredentials => DescribeUserScramCredentialsRequest,
        AlterUserScramCredentials => AlterUserScramCredentialsRequest,
        Vote => VoteRequest,
        BeginQuorumEpoch => BeginQuorumEpochRequest,
        EndQuorumEpoch => EndQuorumEpochRequest,
        DescribeQuorum => DescribeQuorumRequest,
        AlterPartition => AlterPartitionRequest,
        UpdateFeatures => UpdateFeaturesRequest,
        Envelope => EnvelopeRequest,
        FetchSnapshot => FetchSnapshotRequest,
        DescribeCluster => DescribeClusterRequest,
        DescribeProducers => DescribeProducersRequest,
        BrokerRegistration => BrokerRegistrationRequest,
        BrokerHeartbeat => BrokerHeartbeatRequest,
        UnregisterBroker => UnregisterBrokerRequest,
        DescribeTransactions => DescribeTransactionsRequest,
        ListTransactions => ListTransactionsRequest,
        AllocateProducerIds => AllocateProducerIdsRequest,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
        ControllerRegistration => ControllerRegistrationRequest,
        GetTelemetrySubscriptions => GetTelemetrySubscriptionsRequest,
        PushTelemetry => PushTelemetryRequest,
        AssignReplicasToDirs => AssignReplicasToDirsRequest,
        ListConfigResources => ListConfigResourcesRequest,
        DescribeTopicPartitions => DescribeTopicPartitionsRequest,
        ShareGroupHeartbeat => ShareGroupHeartbeatRequest,
        ShareGroupDescribe => ShareGroupDescribeRequest,
        ShareFetch => ShareFetchRequest,
        ShareAcknowledge => ShareAcknowledgeRequest,
        AddRaftVoter => AddRaftVoterRequest,
        RemoveRaftVoter => RemoveRaftVoterRequest,
        UpdateRaftVoter => UpdateRaftVoterRequest,
        InitializeShareGroupState => InitializeShareGroupStateRequest,
        ReadShareGroupState => ReadShareGroupStateRequest,
        WriteShareGroupState => WriteShareGroupStateRequest,
        DeleteShareGroupState => DeleteShareGroupStateRequest,
        ReadShareGroupStateSummary => ReadShareGroupStateSummaryRequest,
        DescribeShareGroupOffsets => DescribeShareGroupOffsetsRequest,
        AlterShareGroupOffsets => AlterShareGroupOffsetsRequest,
        DeleteShareGroupOffsets => DeleteShareGroupOffsetsRequest,
    }
}

/// The range we can speak for `api`.
pub fn ours(api: ApiKey) -> VersionRange {
    let r = api.valid_versions().intersect(&encodable(api));
    match our_max(api) {
        Some(max) => VersionRange {
            min: r.min,
            max: r.max.min(max),
        },
        None => r,
    }
}

/// Decodes an ApiVersions response frame to a request sent at `version`.
///
/// A broker that does not speak `version` answers UNSUPPORTED_VERSION in a
/// v0 body, which a v3 decode rejects (compact arrays, tagged fields) or
/// misreads. As in Java's `ApiVersionsResponse.parse`, a failed decode is
/// retried as v0; an error-35 answer is also re-read as v0 (the body a broker
/// sends with that error), keeping the first reading if v0 does not fit.
pub fn decode_api_versions(version: i16, frame: Bytes) -> Result<ApiVersionsResponse, CodecError> {
    let first = decode_response::<ApiVersionsRequest>(version, frame.clone());
    if version == 0 {
        return first;
    }
    match first {
        Ok(r) if r.error_code != UNSUPPORTED_VERSION => Ok(r),
        Ok(r) => Ok(decode_response::<ApiVersionsRequest>(0, frame).unwrap_or(r)),
        Err(e) => decode_response::<ApiVersionsRequest>(0, frame).map_err(|_| e),
    }
}

/// What an ApiVersions answer means for the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersionsStep {
    /// Negotiation is done: use the answer's list.
    Done,
    /// The broker does not speak the version sent: send again at this one.
    RetryAt(i16),
    /// The broker refused with this error code; the connection is unusable.
    Failed(i16),
}

/// The next step after `resp` answered an ApiVersions request sent at `sent`,
/// as Java's `NetworkClient.handleApiVersionsResponse`: on UNSUPPORTED_VERSION
/// retry at the highest ApiVersions version the broker listed (Kafka 2.4+
/// lists it), else at v0. The retry version is always below `sent`, so the
/// exchange ends.
pub fn api_versions_step(sent: i16, resp: &ApiVersionsResponse) -> ApiVersionsStep {
    match resp.error_code {
        0 => ApiVersionsStep::Done,
        UNSUPPORTED_VERSION if sent > 0 => {
            let listed = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map_or(0, |k| k.max_version);
            ApiVersionsStep::RetryAt(listed.clamp(0, sent - 1))
        }
        code => ApiVersionsStep::Failed(code),
    }
}

/// Negotiated versions of one broker connection.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// Broker's advertised range per API key.
    broker: HashMap<i16, VersionRange>,
}

impl Negotiated {
    /// From the broker's ApiVersions entries (key, min, max).
    pub fn new(entries: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        Self {
            broker: entries
                .into_iter()
                .map(|(k, min, max)| (k, VersionRange { min, max }))
                .collect(),
        }
    }

    /// The highest version both sides support, if any.
    pub fn version(&self, api: ApiKey) -> Option<i16> {
        let theirs = self.broker.get(&(api as i16))?;
        let both = ours(api).intersect(theirs);
        (!both.is_empty()).then_some(both.max)
    }

    /// True when the broker lists the API at all.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.version(api).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, Request};

    #[test]
    fn highest_common_version_is_chosen() {
        let n = Negotiated::new([
            (ApiKey::Fetch as i16, 0, 16),
            (ApiKey::Metadata as i16, 0, 5),
        ]);
        assert_eq!(n.version(ApiKey::Fetch), Some(12));
        assert_eq!(n.version(ApiKey::Metadata), Some(5));
        assert_eq!(n.version(ApiKey::Produce), None);
    }

    #[test]
    fn disjoint_ranges_give_none() {
        let n = Negotiated::new([(ApiKey::Fetch as i16, 0, 3)]);
        assert_eq!(n.version(ApiKey::Fetch), None);
    }

    #[test]
    fn negotiated_versions_never_exceed_what_the_request_type_encodes() {
        // A broker advertising more than kafka-protocol can encode (Kafka 4.1
        // lists InitProducerId v6, KIP-939; OffsetCommit v10 has topic ids).
        let n = Negotiated::new([
            (ApiKey::InitProducerId as i16, 0, 6),
            (ApiKey::OffsetCommit as i16, 2, 10),
        ]);
        assert_eq!(n.version(ApiKey::InitProducerId), Some(5));
        assert_eq!(InitProducerIdRequest::VERSIONS.max, 5);
        assert_eq!(n.version(ApiKey::OffsetCommit), Some(9));
        // Hand caps (our_max) still apply on top.
        let n = Negotiated::new([(ApiKey::OffsetFetch as i16, 0, 9)]);
        assert_eq!(n.version(ApiKey::OffsetFetch), Some(7));
        // Every API: whatever a broker advertises, the chosen version encodes.
        for key in ApiKey::iter() {
            let theirs = key.valid_versions();
            let n = Negotiated::new([(key as i16, 0, i16::MAX)]);
            let Some(v) = n.version(key) else {
                panic!("{key:?}: no version although the broker lists 0..=max")
            };
            let enc = encodable(key);
            assert!(
                enc.min <= v && v <= enc.max && theirs.min <= v,
                "{key:?}: chose v{v}, request type encodes {enc:?}"
            );
        }
    }

    #[test]
    fn every_api_kmirror_sends_encodes_at_its_negotiated_max() {
        fn check<R: Request + Default>() {
            let key = crate::codec::api_key::<R>();
            let v = Negotiated::new([(key as i16, 0, i16::MAX)])
                .version(key)
                .unwrap_or_else(|| panic!("{key:?}: no version"));
            assert!(v <= R::VERSIONS.max, "{key:?} v{v} > {:?}", R::VERSIONS);
            crate::codec::encode_request(1, Some("kmirror"), v, &R::default())
                .unwrap_or_else(|e| panic!("{key:?} v{v} does not encode: {e}"));
        }
        check::<ProduceRequest>();
        check::<FetchRequest>();
        check::<ListOffsetsRequest>();
        check::<MetadataRequest>();
        check::<OffsetCommitRequest>();
        check::<OffsetFetchRequest>();
        check::<FindCoordinatorRequest>();
        check::<JoinGroupRequest>();
        check::<HeartbeatRequest>();
        check::<LeaveGroupRequest>();
        check::<SyncGroupRequest>();
        check::<DescribeGroupsRequest>();
        check::<ListGroupsRequest>();
        check::<SaslHandshakeRequest>();
        check::<SaslAuthenticateRequest>();
        check::<ApiVersionsRequest>();
        check::<CreateTopicsRequest>();
        check::<DeleteTopicsRequest>();
        check::<InitProducerIdRequest>();
        check::<DescribeAclsRequest>();
        check::<CreateAclsRequest>();
        check::<DescribeConfigsRequest>();
        check::<AlterConfigsRequest>();
        check::<IncrementalAlterConfigsRequest>();
        check::<CreatePartitionsRequest>();
        check::<DescribeClusterRequest>();
    }

    /// A response frame: correlation id 7 (header v0, as every ApiVersions
    /// response has), then `body`.
    fn frame(body: &[u8]) -> Bytes {
        let mut f = 7i32.to_be_bytes().to_vec();
        f.extend_from_slice(body);
        Bytes::from(f)
    }

    /// Kafka 2.1's answer to ApiVersions v3: a v0 body, error 35, listing
    /// ApiVersions 0-2 and Metadata 0-7.
    const V0_UNSUPPORTED: [u8; 18] = [
        0x00, 0x23, // error_code 35
        0x00, 0x00, 0x00, 0x02, // api_keys: 2 entries (INT32 count)
        0x00, 0x12, 0x00, 0x00, 0x00, 0x02, // ApiVersions 0..=2
        0x00, 0x03, 0x00, 0x00, 0x00, 0x07, // Metadata 0..=7
    ];

    #[test]
    fn v0_error_35_body_decodes_after_a_v3_request_and_retries_at_the_listed_max() {
        // Read as v3 this body is garbage; the v0 fallback reads it.
        assert!(decode_response::<ApiVersionsRequest>(3, frame(&V0_UNSUPPORTED)).is_err());
        let resp = decode_api_versions(3, frame(&V0_UNSUPPORTED)).unwrap();
        assert_eq!(resp.error_code, 35);
        let listed: Vec<_> = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        assert_eq!(listed, [(18, 0, 2), (3, 0, 7)]);
        assert_eq!(api_versions_step(3, &resp), ApiVersionsStep::RetryAt(2));
    }

    #[test]
    fn v0_error_35_with_no_list_retries_at_v0_and_v0_refused_fails() {
        // Kafka < 2.4 lists nothing with the error.
        let empty = [0x00, 0x23, 0x00, 0x00, 0x00, 0x00];
        let resp = decode_api_versions(3, frame(&empty)).unwrap();
        assert_eq!(resp.error_code, 35);
        assert_eq!(api_versions_step(3, &resp), ApiVersionsStep::RetryAt(0));
        // A listed max at or above what we sent still steps down.
        let resp = decode_api_versions(2, frame(&V0_UNSUPPORTED)).unwrap();
        assert_eq!(api_versions_step(2, &resp), ApiVersionsStep::RetryAt(1));
        // Error 35 to v0 is the end, like Java's disconnect.
        let resp = decode_api_versions(0, frame(&empty)).unwrap();
        assert_eq!(api_versions_step(0, &resp), ApiVersionsStep::Failed(35));
    }

    #[test]
    fn v3_answer_decodes_as_v3_and_garbage_is_still_an_error() {
        let mut b = bytes::BytesMut::new();
        ApiVersionsResponse::default()
            .with_api_keys(vec![
                ApiVersion::default()
                    .with_api_key(ApiKey::Fetch as i16)
                    .with_min_version(0)
                    .with_max_version(16),
            ])
            .with_throttle_time_ms(3)
            .encode(&mut b, 3)
            .unwrap();
        let resp = decode_api_versions(3, frame(&b)).unwrap();
        assert_eq!((resp.error_code, resp.throttle_time_ms), (0, 3));
        assert_eq!(resp.api_keys[0].max_version, 16);
        assert_eq!(api_versions_step(3, &resp), ApiVersionsStep::Done);
        // Neither v3 nor v0: the v3 error is kept.
        let err = decode_api_versions(3, frame(&[0xff; 3])).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::Decode { version: 3, .. }
                    | CodecError::TrailingBytes { version: 3, .. }
            ),
            "{err:?}"
        );
        // A non-35 error is a failure.
        let refused = ApiVersionsResponse::default().with_error_code(42);
        assert_eq!(api_versions_step(3, &refused), ApiVersionsStep::Failed(42));
    }
}
