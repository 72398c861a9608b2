//! The cluster client: bootstrap, metadata cache, leader routing, one pipelined
//! connection per broker (re-opened when it fails), and retries with backoff.
//!
//! # References
//! - Kafka protocol guide, "Partitioning and bootstrapping".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::sync::Mutex as AsyncMutex;

use super::backoff::{Backoff, BackoffConfig};
use super::conn::{ConnConfig, Connection};
use super::error::{ClientError, ConnError};
use super::transport::{Connector, TcpConnector};
use crate::codec::api_key;
use crate::error::ResponseError;

/// Settings of a cluster client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Per-connection settings.
    pub conn: ConnConfig,
    /// Opens transports (TCP, TLS...).
    pub connector: Arc<dyn Connector>,
    /// Retry backoff.
    pub backoff: BackoffConfig,
    /// Attempts per operation before giving up on retriable errors.
    pub max_attempts: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            conn: ConnConfig::default(),
            connector: Arc::new(TcpConnector::default()),
            backoff: BackoffConfig::default(),
            max_attempts: 20,
        }
    }
}

/// Cached metadata of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionMeta {
    /// Leader broker id (-1 when none).
    pub leader: i32,
    /// Leader epoch (-1 when unknown).
    pub leader_epoch: i32,
}

/// Cached metadata of one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicMeta {
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionMeta>,
    /// Kafka marks `__consumer_offsets` and similar as internal.
    pub is_internal: bool,
    /// Topic id (Metadata v10+; all zero when the broker has none). A
    /// deleted and re-created topic gets a new one.
    pub topic_id: [u8; 16],
}

#[derive(Debug, Default)]
struct Cache {
    /// Broker id → `host:port`.
    brokers: BTreeMap<i32, String>,
    /// Topic → metadata.
    topics: HashMap<String, TopicMeta>,
    /// Controller id, if known.
    controller: Option<i32>,
    /// Cluster id, if known.
    cluster_id: Option<String>,
}

type Slot = Arc<AsyncMutex<Option<Arc<Connection>>>>;

#[derive(Debug)]
struct Inner {
    /// Settings.
    config: ClientConfig,
    /// The bootstrap list, tried in order when no broker is known.
    bootstrap: Vec<String>,
    /// Metadata cache.
    cache: RwLock<Cache>,
    /// One connection slot per broker address.
    conns: std::sync::Mutex<HashMap<String, Slot>>,
}

/// A client for one Kafka cluster. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Connects to the first bootstrap server that answers and loads broker metadata.
    pub async fn connect(
        bootstrap: Vec<String>,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let client = Self {
            inner: Arc::new(Inner {
                config,
                bootstrap,
                cache: RwLock::default(),
                conns: std::sync::Mutex::default(),
            }),
        };
        client.refresh_metadata(Some(&[])).await?;
        Ok(client)
    }

    /// Settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Cluster id from the last metadata.
    pub fn cluster_id(&self) -> Option<String> {
        self.read_cache(|c| c.cluster_id.clone())
    }

    /// Known brokers (id → `host:port`).
    pub fn brokers(&self) -> BTreeMap<i32, String> {
        self.read_cache(|c| c.brokers.clone())
    }

    fn read_cache<T>(&self, f: impl FnOnce(&Cache) -> T) -> T {
        match self.inner.cache.read() {
            Ok(c) => f(&c),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn write_cache<T>(&self, f: impl FnOnce(&mut Cache) -> T) -> T {
        match self.inner.cache.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The connection to `addr`, opened (or re-opened after a failure) on demand.
    pub async fn conn_to(&self, addr: &str) -> Result<Arc<Connection>, ConnError> {
        let slot: Slot = {
            let mut m = match self.inner.conns.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            Arc::clone(m.entry(addr.to_owned()).or_default())
        };
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref()
            && !c.is_poisoned()
            && !c.needs_reauthentication()
        {
            return Ok(Arc::clone(c));
        }
        let conn = Arc::new(
            Connection::connect(
                self.inner.config.connector.as_ref(),
                addr,
                self.inner.config.conn.clone(),
            )
            .await?,
        );
        *guard = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// The connection to broker `id`.
    pub async fn broker_conn(&self, id: i32) -> Result<Arc<Connection>, ClientError> {
        let addr = self
            .read_cache(|c| c.brokers.get(&id).cloned())
            .ok_or(ClientError::UnknownBroker(id))?;
        Ok(self.conn_to(&addr).await?)
    }

    /// A connection to any reachable broker (known brokers first, then bootstrap).
    pub async fn any_conn(&self) -> Result<Arc<Connection>, ClientError> {
        let mut addrs: Vec<String> = self.read_cache(|c| c.brokers.values().cloned().collect());
        addrs.extend(self.inner.bootstrap.iter().cloned());
        let mut last = None;
        for a in &addrs {
            match self.conn_to(a).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(ClientError::NoBootstrap {
            servers: self.inner.bootstrap.join(","),
            source: Arc::new(last.unwrap_or_else(|| ConnError::Connect {
                broker: String::new(),
                source: Arc::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "empty bootstrap list",
                )),
            })),
        })
    }

    /// Sends a request to any broker.
    pub async fn send_any<R: Request>(
        &self,
        req: &R,
    ) -> Result<(String, R::Response), ClientError> {
        let c = self.any_conn().await?;
        let resp = c.send(req).await?;
        Ok((c.broker().to_owned(), resp))
    }

    /// Sends a request to broker `id`.
    pub async fn send_to<R: Request>(&self, id: i32, req: &R) -> Result<R::Response, ClientError> {
        let c = self.broker_conn(id).await?;
        Ok(c.send(req).await?)
    }

    /// Sends a request to the controller (any broker if unknown, as KRaft
    /// brokers forward admin requests).
    pub async fn send_controller<R: Request>(
        &self,
        req: &R,
    ) -> Result<(String, R::Response), ClientError> {
        match self.read_cache(|c| c.controller) {
            Some(id) if id >= 0 => {
                let c = self.broker_conn(id).await?;
                let resp = c.send(req).await?;
                Ok((c.broker().to_owned(), resp))
            }
            _ => self.send_any(req).await,
        }
    }

    /// The negotiated version of `api` on any broker.
    pub async fn version_for(&self, api: ApiKey) -> Result<i16, ClientError> {
        Ok(self.any_conn().await?.version_for(api)?)
    }

    /// Fetches metadata (`None` = all topics, `Some(&[])` = brokers only) and
    /// updates the cache. Topics absent from the answer keep no entry.
    pub async fn refresh_metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse, ClientError> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let (_, resp) = self.send_any(&req).await?;
        self.write_cache(|c| {
            if !resp.brokers.is_empty() {
                c.brokers = resp
                    .brokers
                    .iter()
                    .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
                    .collect();
            }
            c.controller = Some(resp.controller_id.0);
            if let Some(id) = &resp.cluster_id {
                c.cluster_id = Some(id.as_str().to_owned());
            }
            for t in &resp.topics {
                let Some(name) = &t.name else { continue };
                let name = name.0.as_str().to_owned();
                if t.error_code != 0 {
                    c.topics.remove(&name);
                    continue;
                }
                let meta = TopicMeta {
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            (
                                p.partition_index,
                                PartitionMeta {
                                    leader: if p.error_code == 0 || p.leader_id.0 >= 0 {
                                        p.leader_id.0
                                    } else {
                                        -1
                                    },
                                    leader_epoch: p.leader_epoch,
                                },
                            )
                        })
                        .collect(),
                    is_internal: t.is_internal,
                    topic_id: *t.topic_id.as_bytes(),
                };
                c.topics.insert(name, meta);
            }
        });
        Ok(resp)
    }

    /// Cached metadata of `topic`.
    pub fn topic_meta(&self, topic: &str) -> Option<TopicMeta> {
        self.read_cache(|c| c.topics.get(topic).cloned())
    }

    /// Forgets the cached metadata of `topic` so the next lookup refreshes it.
    pub fn invalidate_topic(&self, topic: &str) {
        self.write_cache(|c| {
            c.topics.remove(topic);
        });
    }

    /// Leader of a partition, refreshing metadata once if it is not cached.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<i32, ClientError> {
        // Called for every produced batch: read in place, no TopicMeta clone.
        let lookup = |me: &Self| {
            me.read_cache(|c| {
                c.topics
                    .get(topic)
                    .and_then(|t| t.partitions.get(&partition))
                    .map(|p| p.leader)
            })
            .filter(|l| *l >= 0)
        };
        if let Some(l) = lookup(self) {
            return Ok(l);
        }
        self.refresh_metadata(Some(&[topic.to_owned()])).await?;
        lookup(self).ok_or_else(|| ClientError::NoLeader {
            tp: super::error::tp_name(topic, partition),
        })
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error or the
    /// attempts run out, backing off in between and refreshing metadata of
    /// `topics` when the error says routing is stale.
    pub async fn retry<T, F, Fut>(&self, topics: &[String], mut op: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut backoff = Backoff::new(self.inner.config.backoff);
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.is_retriable()
                        && backoff.attempts() + 1 < self.inner.config.max_attempts =>
                {
                    tracing::debug!(error = %e, attempt = backoff.attempts() + 1, "retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                    if e.needs_metadata_refresh() {
                        for t in topics {
                            self.invalidate_topic(t);
                        }
                        let _ = self.refresh_metadata(Some(topics)).await;
                    }
                }
                Err(e) if e.is_retriable() => {
                    return Err(ClientError::RetriesExhausted {
                        attempts: backoff.attempts() + 1,
                        source: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Turns a response error code into a typed error naming broker, API and resource.
pub fn check_code<R: Request>(
    code: i16,
    broker: &str,
    resource: impl FnOnce() -> Option<String>,
    message: Option<&StrBytes>,
) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(code) => Err(ClientError::Broker {
            broker: broker.to_owned(),
            api: api_key::<R>(),
            resource: resource(),
            code,
            message: message
                .map(|m| m.as_str().to_owned())
                .filter(|m| !m.is_empty()),
        }),
    }
}

/// Default wait for a broker answer before an operation is retried.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
