//! Topic admin: list topics (Metadata), CreateTopics and CreatePartitions.
//!
//! # References
//! - Kafka protocol guide: CreateTopics, CreatePartitions; KIP-195.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::cluster::check_code;
use crate::client::{Client, ClientError, TopicMeta};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partition count (-1 = broker default).
    pub num_partitions: i32,
    /// Replication factor (-1 = broker default).
    pub replication_factor: i16,
    /// Topic configs set at creation.
    pub configs: Vec<(String, String)>,
}

/// Per-topic outcome of an admin call.
pub type TopicResults = Vec<(String, Result<(), ClientError>)>;

/// The CreateTopics request [`Client::create_topics`] sends (pure, for tests
/// of the exact bytes a broker receives).
pub fn create_topics_request(
    topics: &[NewTopic],
    timeout_ms: i32,
    validate_only: bool,
) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_validate_only(validate_only)
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    CreatableTopic::default()
                        .with_name(TopicName(StrBytes::from_string(t.name.clone())))
                        .with_num_partitions(t.num_partitions)
                        .with_replication_factor(t.replication_factor)
                        .with_configs(
                            t.configs
                                .iter()
                                .map(|(k, v)| {
                                    CreatableTopicConfig::default()
                                        .with_name(StrBytes::from_string(k.clone()))
                                        .with_value(Some(StrBytes::from_string(v.clone())))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// One result per topic asked for, in order, from a CreateTopics answer of
/// `broker`; a topic missing from the answer is an error.
pub fn create_topics_results(
    topics: &[NewTopic],
    resp: &CreateTopicsResponse,
    broker: &str,
) -> TopicResults {
    topics
        .iter()
        .map(|t| {
            let r = match resp.topics.iter().find(|r| r.name.0.as_str() == t.name) {
                Some(r) => check_code::<CreateTopicsRequest>(
                    r.error_code,
                    broker,
                    || Some(t.name.clone()),
                    r.error_message.as_ref(),
                ),
                None => Err(ClientError::MissingInResponse {
                    api: kafka_protocol::messages::ApiKey::CreateTopics,
                    resource: t.name.clone(),
                }),
            };
            (t.name.clone(), r)
        })
        .collect()
}

/// The CreatePartitions request [`Client::create_partitions`] sends: raise
/// each topic to the count given, replica placement left to the broker.
pub fn create_partitions_request(
    counts: &[(String, i32)],
    timeout_ms: i32,
) -> CreatePartitionsRequest {
    CreatePartitionsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(
            counts
                .iter()
                .map(|(t, n)| {
                    CreatePartitionsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(t.clone())))
                        .with_count(*n)
                        .with_assignments(None)
                })
                .collect(),
        )
}

/// One result per topic asked for, in order, from a CreatePartitions answer
/// of `broker`; a topic missing from the answer is an error.
pub fn create_partitions_results(
    counts: &[(String, i32)],
    resp: &CreatePartitionsResponse,
    broker: &str,
) -> TopicResults {
    counts
        .iter()
        .map(|(t, _)| {
            let r = match resp.results.iter().find(|r| r.name.0.as_str() == t) {
                Some(r) => check_code::<CreatePartitionsRequest>(
                    r.error_code,
                    broker,
                    || Some(t.clone()),
                    r.error_message.as_ref(),
                ),
                None => Err(ClientError::MissingInResponse {
                    api: kafka_protocol::messages::ApiKey::CreatePartitions,
                    resource: t.clone(),
                }),
            };
            (t.clone(), r)
        })
        .collect()
}

impl Client {
    /// All topics with their partitions (one Metadata round trip; refreshes the cache).
    pub async fn list_topics(&self) -> Result<BTreeMap<String, TopicMeta>, ClientError> {
        let resp = self.refresh_metadata(None).await?;
        Ok(resp
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| t.name.as_ref())
            .filter_map(|n| {
                let n = n.0.as_str();
                self.topic_meta(n).map(|m| (n.to_owned(), m))
            })
            .collect())
    }

    /// Creates topics. TOPIC_ALREADY_EXISTS is reported per topic like any error.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        timeout_ms: i32,
        validate_only: bool,
    ) -> Result<TopicResults, ClientError> {
        let req = create_topics_request(topics, timeout_ms, validate_only);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(create_topics_results(topics, &resp, &broker))
    }

    /// Deletes topics by name.
    pub async fn delete_topics(
        &self,
        topics: &[String],
        timeout_ms: i32,
    ) -> Result<TopicResults, ClientError> {
        use kafka_protocol::messages::DeleteTopicsRequest;
        use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
        let version = self
            .version_for(kafka_protocol::messages::ApiKey::DeleteTopics)
            .await?;
        let mut req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
        if version >= 6 {
            req = req.with_topics(
                topics
                    .iter()
                    .map(|t| {
                        DeleteTopicState::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect(),
            );
        } else {
            req = req.with_topic_names(
                topics
                    .iter()
                    .map(|t| TopicName(StrBytes::from_string(t.clone())))
                    .collect(),
            );
        }
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(topics
            .iter()
            .map(|t| {
                let r = match resp
                    .responses
                    .iter()
                    .find(|r| r.name.as_ref().is_some_and(|n| n.0.as_str() == t))
                {
                    Some(r) => check_code::<DeleteTopicsRequest>(
                        r.error_code,
                        &broker,
                        || Some(t.clone()),
                        r.error_message.as_ref(),
                    ),
                    None => Err(ClientError::MissingInResponse {
                        api: kafka_protocol::messages::ApiKey::DeleteTopics,
                        resource: t.clone(),
                    }),
                };
                self.invalidate_topic(t);
                (t.clone(), r)
            })
            .collect())
    }

    /// Raises topics to the given partition counts (never shrinks; Kafka refuses).
    pub async fn create_partitions(
        &self,
        counts: &[(String, i32)],
        timeout_ms: i32,
    ) -> Result<TopicResults, ClientError> {
        let req = create_partitions_request(counts, timeout_ms);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(create_partitions_results(counts, &resp, &broker))
    }
}
