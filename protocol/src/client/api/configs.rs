//! Topic configs: DescribeConfigs, IncrementalAlterConfigs (KIP-339) and the
//! legacy AlterConfigs that replaces a topic's whole config, for MM2's config sync.
//!
//! # References
//! - KIP-133 (DescribeConfigs/AlterConfigs), KIP-226 (config sources), KIP-339
//!   (IncrementalAlterConfigs); Kafka `DescribeConfigsResponse.ConfigSource`.

use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ApiKey, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::client::cluster::check_code;
use crate::client::{Client, ClientError};

/// `ConfigResource.Type.TOPIC` on the wire.
const RESOURCE_TOPIC: i8 = 2;

/// Where a config value comes from (Kafka's `DescribeConfigsResponse.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic (`DYNAMIC_TOPIC_CONFIG`, 1).
    DynamicTopic,
    /// Dynamic per-broker config (`DYNAMIC_BROKER_CONFIG`, 2).
    DynamicBroker,
    /// Dynamic cluster-wide broker default (`DYNAMIC_DEFAULT_BROKER_CONFIG`, 3).
    DynamicDefaultBroker,
    /// `server.properties` (`STATIC_BROKER_CONFIG`, 4).
    StaticBroker,
    /// Kafka's built-in default (`DEFAULT_CONFIG`, 5).
    Default,
    /// Broker logger level (`DYNAMIC_BROKER_LOGGER_CONFIG`, 6).
    DynamicBrokerLogger,
    /// Client metrics subscription (`CLIENT_METRICS_CONFIG`, 7).
    ClientMetrics,
    /// Group config (`GROUP_CONFIG`, 8).
    Group,
    /// `UNKNOWN` (0) or a code newer than this client.
    Unknown(i8),
}

impl ConfigSource {
    /// The source for a wire code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => Self::DynamicTopic,
            2 => Self::DynamicBroker,
            3 => Self::DynamicDefaultBroker,
            4 => Self::StaticBroker,
            5 => Self::Default,
            6 => Self::DynamicBrokerLogger,
            7 => Self::ClientMetrics,
            8 => Self::Group,
            other => Self::Unknown(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            Self::DynamicTopic => 1,
            Self::DynamicBroker => 2,
            Self::DynamicDefaultBroker => 3,
            Self::StaticBroker => 4,
            Self::Default => 5,
            Self::DynamicBrokerLogger => 6,
            Self::ClientMetrics => 7,
            Self::Group => 8,
            Self::Unknown(c) => c,
        }
    }
}

/// One config entry of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config key, e.g. `retention.ms`.
    pub name: String,
    /// Value; `None` for sensitive entries and unset values.
    pub value: Option<String>,
    /// True when the config cannot be altered (config sync skips it).
    pub read_only: bool,
    /// True for passwords and similar; the value is hidden.
    pub is_sensitive: bool,
    /// Where the value comes from; config sync copies only topic-level values.
    pub source: ConfigSource,
}

/// The configs of one topic, or why the broker could not describe them.
#[derive(Debug, Clone)]
pub struct TopicConfigs {
    /// Topic.
    pub topic: String,
    /// Entries, or the topic's error (e.g. `UNKNOWN_TOPIC_OR_PARTITION`).
    pub entries: Result<Vec<ConfigEntry>, ClientError>,
}

/// What an incremental alteration does to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigOp {
    /// Sets the key to a value (`SET`, 0).
    Set(String),
    /// Reverts the key to its default (`DELETE`, 1).
    Delete,
}

impl ConfigOp {
    /// `AlterConfigOp.OpType` code on the wire.
    pub fn code(&self) -> i8 {
        match self {
            Self::Set(_) => 0,
            Self::Delete => 1,
        }
    }
}

/// One key's change in [`Client::incremental_alter_topic_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterOp {
    /// Config key.
    pub key: String,
    /// What to do with it.
    pub op: ConfigOp,
}

impl AlterOp {
    /// Sets `key` to `value`.
    pub fn set(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            op: ConfigOp::Set(value.into()),
        }
    }

    /// Reverts `key` to its default.
    pub fn delete(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            op: ConfigOp::Delete,
        }
    }
}

fn topic_resource(topic: &str) -> String {
    format!("topic {topic}")
}

/// The DescribeConfigs request for `topics` (all keys, no synonyms, no docs)
/// that [`Client::describe_topic_configs`] sends.
pub fn describe_topic_configs_request(topics: &[String]) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default()
        .with_resources(
            topics
                .iter()
                .map(|t| {
                    DescribeConfigsResource::default()
                        .with_resource_type(RESOURCE_TOPIC)
                        .with_resource_name(StrBytes::from_string(t.clone()))
                        .with_configuration_keys(None)
                })
                .collect(),
        )
        .with_include_synonyms(false)
        .with_include_documentation(false)
}

/// The IncrementalAlterConfigs request for `ops` that
/// [`Client::incremental_alter_topic_configs`] sends.
pub fn incremental_alter_request(
    ops: &[(String, Vec<AlterOp>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default()
        .with_resources(
            ops.iter()
                .map(|(topic, changes)| {
                    AlterConfigsResource::default()
                        .with_resource_type(RESOURCE_TOPIC)
                        .with_resource_name(StrBytes::from_string(topic.clone()))
                        .with_configs(
                            changes
                                .iter()
                                .map(|c| {
                                    AlterableConfig::default()
                                        .with_name(StrBytes::from_string(c.key.clone()))
                                        .with_config_operation(c.op.code())
                                        .with_value(match &c.op {
                                            ConfigOp::Set(v) => {
                                                Some(StrBytes::from_string(v.clone()))
                                            }
                                            ConfigOp::Delete => None,
                                        })
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_validate_only(validate_only)
}

/// The legacy AlterConfigs request replacing each topic's whole config, as
/// [`Client::alter_topic_configs`] sends it.
pub fn alter_configs_request(
    topic_configs: &[(String, Vec<(String, String)>)],
) -> AlterConfigsRequest {
    AlterConfigsRequest::default()
        .with_resources(
            topic_configs
                .iter()
                .map(|(topic, configs)| {
                    LegacyResource::default()
                        .with_resource_type(RESOURCE_TOPIC)
                        .with_resource_name(StrBytes::from_string(topic.clone()))
                        .with_configs(
                            configs
                                .iter()
                                .map(|(k, v)| {
                                    LegacyConfig::default()
                                        .with_name(StrBytes::from_string(k.clone()))
                                        .with_value(Some(StrBytes::from_string(v.clone())))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_validate_only(false)
}

/// Matches per-topic answers `(name, error_code, error_message)` to the topics
/// asked for, in the order asked; a topic missing from the answer gets
/// [`ClientError::MissingInResponse`].
fn per_topic<'a, R: Request>(
    asked: impl Iterator<Item = &'a String>,
    answers: &[(&str, i16, Option<&StrBytes>)],
    broker: &str,
) -> Vec<(String, Result<(), ClientError>)> {
    asked
        .map(|topic| {
            let res = match answers.iter().find(|(n, _, _)| *n == topic.as_str()) {
                Some((_, code, message)) => {
                    check_code::<R>(*code, broker, || Some(topic_resource(topic)), *message)
                }
                None => Err(ClientError::MissingInResponse {
                    api: crate::codec::api_key::<R>(),
                    resource: topic_resource(topic),
                }),
            };
            (topic.clone(), res)
        })
        .collect()
}

/// The configs of each topic asked for, in order, from a DescribeConfigs
/// answer of `broker`; a topic missing from the answer is an error.
pub fn describe_topic_configs_results(
    topics: &[String],
    resp: &DescribeConfigsResponse,
    broker: &str,
) -> Vec<TopicConfigs> {
    topics
        .iter()
        .map(|topic| {
            let entries =
                match resp.results.iter().find(|r| {
                    r.resource_type == RESOURCE_TOPIC && r.resource_name.as_str() == topic
                }) {
                    None => Err(ClientError::MissingInResponse {
                        api: ApiKey::DescribeConfigs,
                        resource: topic_resource(topic),
                    }),
                    Some(r) => check_code::<DescribeConfigsRequest>(
                        r.error_code,
                        broker,
                        || Some(topic_resource(topic)),
                        r.error_message.as_ref(),
                    )
                    .map(|()| {
                        r.configs
                            .iter()
                            .map(|c| ConfigEntry {
                                name: c.name.as_str().to_owned(),
                                value: c.value.as_ref().map(|v| v.as_str().to_owned()),
                                read_only: c.read_only,
                                is_sensitive: c.is_sensitive,
                                source: ConfigSource::from_code(c.config_source),
                            })
                            .collect()
                    }),
                };
            TopicConfigs {
                topic: topic.clone(),
                entries,
            }
        })
        .collect()
}

/// One result per topic asked for, in order, from an IncrementalAlterConfigs
/// answer of `broker`.
pub fn incremental_alter_results(
    ops: &[(String, Vec<AlterOp>)],
    resp: &IncrementalAlterConfigsResponse,
    broker: &str,
) -> Vec<(String, Result<(), ClientError>)> {
    let answers: Vec<_> = resp
        .responses
        .iter()
        .filter(|r| r.resource_type == RESOURCE_TOPIC)
        .map(|r| {
            (
                r.resource_name.as_str(),
                r.error_code,
                r.error_message.as_ref(),
            )
        })
        .collect();
    per_topic::<IncrementalAlterConfigsRequest>(ops.iter().map(|(t, _)| t), &answers, broker)
}

/// One result per topic asked for, in order, from a legacy AlterConfigs
/// answer of `broker`.
pub fn alter_configs_results(
    topic_configs: &[(String, Vec<(String, String)>)],
    resp: &AlterConfigsResponse,
    broker: &str,
) -> Vec<(String, Result<(), ClientError>)> {
    let answers: Vec<_> = resp
        .responses
        .iter()
        .filter(|r| r.resource_type == RESOURCE_TOPIC)
        .map(|r| {
            (
                r.resource_name.as_str(),
                r.error_code,
                r.error_message.as_ref(),
            )
        })
        .collect();
    per_topic::<AlterConfigsRequest>(topic_configs.iter().map(|(t, _)| t), &answers, broker)
}

impl Client {
    /// Describes the configs of `topics`, in the order given. The outer error
    /// is a failed exchange; each topic carries its own Kafka error.
    pub async fn describe_topic_configs(
        &self,
        topics: &[String],
    ) -> Result<Vec<TopicConfigs>, ClientError> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let req = describe_topic_configs_request(topics);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(describe_topic_configs_results(topics, &resp, &broker))
    }

    /// Applies per-key changes to topic configs (IncrementalAlterConfigs), one
    /// result per topic in the order given. With `validate_only` the broker
    /// checks the changes without applying them.
    pub async fn incremental_alter_topic_configs(
        &self,
        ops: &[(String, Vec<AlterOp>)],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let req = incremental_alter_request(ops, validate_only);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(incremental_alter_results(ops, &resp, &broker))
    }

    /// Replaces the whole config of each topic with the given keys (legacy
    /// AlterConfigs: keys not listed revert to their defaults). For brokers
    /// without IncrementalAlterConfigs; see [`Client::incremental_alter_supported`].
    pub async fn alter_topic_configs(
        &self,
        topic_configs: &[(String, Vec<(String, String)>)],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        if topic_configs.is_empty() {
            return Ok(Vec::new());
        }
        let req = alter_configs_request(topic_configs);
        let (broker, resp) = self.send_controller(&req).await?;
        Ok(alter_configs_results(topic_configs, &resp, &broker))
    }

    /// True when the broker speaks IncrementalAlterConfigs (Kafka 2.3+), from
    /// the versions negotiated with any broker (clusters run one version).
    pub async fn incremental_alter_supported(&self) -> Result<bool, ClientError> {
        Ok(self
            .any_conn()
            .await?
            .versions()
            .supports(ApiKey::IncrementalAlterConfigs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_source_codes_round_trip() {
        for code in i8::MIN..=i8::MAX {
            assert_eq!(ConfigSource::from_code(code).code(), code);
        }
        assert_eq!(ConfigSource::from_code(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigSource::from_code(5), ConfigSource::Default);
        assert_eq!(ConfigSource::from_code(8), ConfigSource::Group);
        assert_eq!(ConfigSource::from_code(0), ConfigSource::Unknown(0));
        assert_eq!(ConfigSource::from_code(9), ConfigSource::Unknown(9));
    }

    #[test]
    fn incremental_request_sets_value_only_for_set() {
        let req = incremental_alter_request(
            &[(
                "t".to_owned(),
                vec![
                    AlterOp::set("retention.ms", "1000"),
                    AlterOp::delete("cleanup.policy"),
                ],
            )],
            true,
        );
        assert!(req.validate_only);
        let r = &req.resources[0];
        assert_eq!(r.resource_type, RESOURCE_TOPIC);
        assert_eq!(r.resource_name.as_str(), "t");
        assert_eq!(r.configs[0].config_operation, 0);
        assert_eq!(
            r.configs[0].value.as_ref().map(|v| v.as_str()),
            Some("1000")
        );
        assert_eq!(r.configs[1].config_operation, 1);
        assert_eq!(r.configs[1].value, None);
    }

    #[test]
    fn describe_request_asks_all_keys_without_synonyms() {
        let req = describe_topic_configs_request(&["a".to_owned(), "b".to_owned()]);
        assert!(!req.include_synonyms && !req.include_documentation);
        assert_eq!(req.resources.len(), 2);
        assert!(req.resources.iter().all(|r| r.configuration_keys.is_none()));
    }

    #[test]
    fn missing_topic_in_answer_is_reported_per_topic() {
        let asked = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let msg = StrBytes::from_static_str("bad value");
        let answers = [("a", 0, None), ("b", 40, Some(&msg))];
        let out = per_topic::<AlterConfigsRequest>(asked.iter(), &answers, "1@h:9092");
        assert_eq!(out.len(), 3);
        assert!(out[0].1.is_ok());
        let e = out[1]
            .1
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("topic b") && e.contains("INVALID_CONFIG") && e.contains("bad value"),
            "{e}"
        );
        assert!(matches!(
            out[2].1,
            Err(ClientError::MissingInResponse { .. })
        ));
    }
}
