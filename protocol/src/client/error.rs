//! Client-layer errors: one connection (`ConnError`) and the cluster client
//! (`ClientError`), each naming the broker, API and partition involved.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use crate::error::{CodecError, FrameError, ResponseError, error_code_name};

/// A failure of one broker connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// TCP (or TLS) connect failed.
    #[error("cannot connect to broker {broker}")]
    Connect {
        /// `host:port`.
        broker: String,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Reading or writing failed; the connection is closed.
    #[error("i/o error on connection to broker {broker}")]
    Io {
        /// `host:port`.
        broker: String,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The broker sent an invalid frame; the connection is closed.
    #[error("invalid frame from broker {broker}")]
    Frame {
        /// `host:port`.
        broker: String,
        /// What was wrong.
        #[source]
        source: FrameError,
    },
    /// Encoding the request or decoding the response failed.
    #[error("{api:?} exchange with broker {broker} failed")]
    Codec {
        /// `host:port`.
        broker: String,
        /// API involved.
        api: ApiKey,
        /// Codec failure.
        #[source]
        source: Arc<CodecError>,
    },
    /// No response within the request timeout.
    #[error("{api:?} request to broker {broker} timed out after {after:?}")]
    Timeout {
        /// `host:port`.
        broker: String,
        /// API involved.
        api: ApiKey,
        /// The timeout.
        after: Duration,
    },
    /// The connection failed earlier; every later request gets this.
    #[error("connection to broker {broker} is closed")]
    Poisoned {
        /// `host:port`.
        broker: String,
        /// The first failure.
        #[source]
        source: Arc<ConnError>,
    },
    /// SASL authentication failed (wrong credentials, mechanism not enabled
    /// on the broker, or the broker could not prove it knows the password).
    #[error("SASL {mechanism} authentication to broker {broker} failed: {reason}")]
    Auth {
        /// `host:port`.
        broker: String,
        /// `PLAIN`, `SCRAM-SHA-256`, ...
        mechanism: &'static str,
        /// What the broker or the exchange said (never a secret).
        reason: String,
    },
    /// The broker answered ApiVersions with an error other than a version
    /// step-down (Kafka's Java client disconnects in this case too).
    #[error("broker {broker} refused ApiVersions v{version}: {code}")]
    ApiVersionsRefused {
        /// `host:port`.
        broker: String,
        /// ApiVersions version sent.
        version: i16,
        /// Kafka's name of the error code.
        code: String,
    },
    /// The broker speaks no version of the API that we speak.
    #[error("broker {broker} supports no version of {api:?} that kmirror speaks")]
    NoVersionMatch {
        /// `host:port`.
        broker: String,
        /// API involved.
        api: ApiKey,
    },
}

impl ConnError {
    /// Network-level failures that a reconnect may cure.
    pub fn is_retriable(&self) -> bool {
        !matches!(
            self,
            Self::NoVersionMatch { .. } | Self::Codec { .. } | Self::ApiVersionsRefused { .. }
        )
    }

    /// True for request timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// True when the connection is closed and must be replaced.
    pub fn is_poisoned(&self) -> bool {
        matches!(
            self,
            Self::Poisoned { .. } | Self::Io { .. } | Self::Frame { .. }
        )
    }
}

/// Formats `topic-partition` the way Kafka logs it.
pub fn tp_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// A failure of a cluster-level operation.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A connection failed.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The broker answered with a Kafka error code.
    #[error("{api:?} to broker {broker}{}: {}{}", resource.as_ref().map(|r| format!(" for {r}")).unwrap_or_default(), error_code_name(*code), message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// Broker that answered (`id@host:port`).
        broker: String,
        /// API involved.
        api: ApiKey,
        /// Topic-partition, topic, group or other resource, if any.
        resource: Option<String>,
        /// Kafka error code.
        code: ResponseError,
        /// Error message from the broker, if it sent one.
        message: Option<String>,
    },
    /// None of the bootstrap servers answered.
    #[error("no bootstrap server of [{servers}] answered")]
    NoBootstrap {
        /// The list tried.
        servers: String,
        /// Last failure.
        #[source]
        source: Arc<ConnError>,
    },
    /// Metadata has no usable leader for the partition.
    #[error("no leader known for {tp}")]
    NoLeader {
        /// `topic-partition`.
        tp: String,
    },
    /// Metadata names a broker id we have no address for.
    #[error("broker id {0} is not in the metadata")]
    UnknownBroker(i32),
    /// Retries ran out; the last error is the source.
    #[error("gave up after {attempts} attempts")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Last error.
        #[source]
        source: Box<ClientError>,
    },
    /// The response lacks an entry we asked for.
    #[error("{api:?} response has no entry for {resource}")]
    MissingInResponse {
        /// API involved.
        api: ApiKey,
        /// What is missing.
        resource: String,
    },
}

impl ClientError {
    /// True when the same operation may succeed after a metadata refresh or backoff.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Conn(e) => e.is_retriable(),
            Self::Broker { code, .. } => code.is_retriable(),
            Self::NoLeader { .. } | Self::UnknownBroker(_) | Self::NoBootstrap { .. } => true,
            Self::MissingInResponse { .. } => true,
            Self::RetriesExhausted { .. } => false,
        }
    }

    /// The Kafka error code, if the broker sent one.
    pub fn code(&self) -> Option<ResponseError> {
        match self {
            Self::Broker { code, .. } => Some(*code),
            Self::RetriesExhausted { source, .. } => source.code(),
            _ => None,
        }
    }

    /// True when the error means routing (leader/metadata) is stale.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            Self::Conn(_) | Self::NoLeader { .. } | Self::UnknownBroker(_) => true,
            Self::Broker { code, .. } => matches!(
                code,
                ResponseError::NotLeaderOrFollower
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::FencedLeaderEpoch
                    | ResponseError::UnknownLeaderEpoch
                    | ResponseError::NotCoordinator
                    | ResponseError::CoordinatorNotAvailable
            ),
            _ => false,
        }
    }
}
