//! The async client (feature `client`): transports, pipelined connections, the
//! cluster client and typed helpers for the APIs MM2's features need.

pub mod api;
pub mod backoff;
pub mod cluster;
pub mod conn;
pub mod error;
pub mod sasl;
pub mod security;
pub mod tls;
pub mod transport;

pub use cluster::{Client, ClientConfig, PartitionMeta, TopicMeta};
pub use conn::{ConnConfig, Connection, SaslSettings};
pub use error::{ClientError, ConnError};
pub use security::{Security, SecurityError, SecurityProtocol};
pub use transport::{Connector, TcpConnector, Transport};
