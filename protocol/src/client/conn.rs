//! One pipelined broker connection: a writer task fed by a bounded channel, a
//! reader task matching responses to requests by correlation id, and poison.
//!
//! Many requests may be in flight; the channel's capacity is the backpressure.
//! Any I/O or framing error closes the connection and fails every waiter with
//! [`ConnError::Poisoned`]. A request future dropped mid-flight leaves no state
//! behind but a map entry removed when (if) its response arrives.
//!
//! # References
//! - Kafka protocol guide, "Network": responses arrive in request order per
//!   connection, matched here by correlation id regardless.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::ConnError;
use super::sasl::{Credentials, Mechanism, SaslClient, Step};
use super::transport::{Connector, Transport};
use crate::codec::{api_key, decode_response, encode_request, peek_correlation_id};
use crate::error::error_code_name;
use crate::frame::{DEFAULT_MAX_FRAME, FrameDecoder};
use crate::versions::{
    API_VERSIONS_FIRST, ApiVersionsStep, Negotiated, api_versions_step, decode_api_versions,
};

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// `client.id` sent in every request header.
    pub client_id: Option<String>,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// Requests queued or in flight before `send` waits.
    pub max_in_flight: usize,
    /// Largest response frame accepted.
    pub max_frame: usize,
    /// SASL credentials (`SASL_PLAINTEXT` / `SASL_SSL`): every connection
    /// authenticates after ApiVersions.
    pub sasl: Option<Arc<SaslSettings>>,
}

/// The SASL mechanism and credentials of a client.
#[derive(Debug, Clone)]
pub struct SaslSettings {
    /// `sasl.mechanism`.
    pub mechanism: Mechanism,
    /// From `sasl.jaas.config`.
    pub credentials: Credentials,
}

impl Default for ConnConfig {
    fn default() -> Self {
        Self {
            client_id: Some("kmirror".into()),
            // Kafka's request.timeout.ms default.
            request_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            max_frame: DEFAULT_MAX_FRAME,
            sasl: None,
        }
    }
}

type Reply = oneshot::Sender<Result<Bytes, ConnError>>;

struct Outgoing {
    correlation_id: i32,
    chunks: Vec<Bytes>,
    reply: Reply,
}

#[derive(Default, Debug)]
struct Shared {
    /// Waiters by correlation id.
    pending: Mutex<HashMap<i32, Reply>>,
    /// The first fatal error, if the connection failed.
    poison: OnceLock<ConnError>,
}

impl Shared {
    fn poison(&self, broker: &str, err: ConnError) {
        let _ = self.poison.set(err);
        let err = self.poisoned(broker);
        let waiters: Vec<Reply> = self
            .pending
            .lock()
            .map(|mut p| p.drain().map(|(_, r)| r).collect())
            .unwrap_or_default();
        for w in waiters {
            let _ = w.send(Err(err.clone()));
        }
    }

    fn poisoned(&self, broker: &str) -> ConnError {
        let first = self.poison.get().cloned().unwrap_or_else(|| ConnError::Io {
            broker: broker.to_owned(),
            source: Arc::new(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "connection closed",
            )),
        });
        ConnError::Poisoned {
            broker: broker.to_owned(),
            source: Arc::new(first),
        }
    }
}

/// A pipelined connection to one broker.
pub struct Connection {
    /// `host:port`, for errors and logs.
    broker: String,
    /// Settings.
    config: ConnConfig,
    /// Next correlation id.
    next_correlation: AtomicI32,
    /// Queue to the writer task.
    tx: mpsc::Sender<Outgoing>,
    /// State shared with the tasks.
    shared: Arc<Shared>,
    /// API versions agreed with the broker.
    versions: Negotiated,
    /// Reader and writer tasks, aborted on drop.
    tasks: [JoinHandle<()>; 2],
    /// When the SASL session should be renewed (KIP-368): the pool replaces
    /// the connection by a freshly authenticated one from then on.
    reauthenticate_at: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.broker)
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Connection {
    /// Opens a connection and negotiates API versions.
    pub async fn connect(
        connector: &dyn Connector,
        broker: &str,
        config: ConnConfig,
    ) -> Result<Self, ConnError> {
        // TCP and the TLS handshake share the request timeout: a peer that
        // never answers the handshake (a plaintext listener) must not hang us.
        let io = tokio::time::timeout(config.request_timeout, connector.connect(broker))
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no TCP/TLS connection within {:?} (a TLS client against a plaintext listener waits like this)",
                        config.request_timeout
                    ),
                ))
            })
            .map_err(|e| ConnError::Connect {
                broker: broker.to_owned(),
                source: Arc::new(e),
            })?;
        let sasl = config.sasl.clone();
        let mut conn = Self::over(io, broker, config);
        conn.negotiate().await?;
        if let Some(sasl) = sasl {
            conn.authenticate(&sasl).await?;
        }
        Ok(conn)
    }

    /// SaslHandshake v1 then SaslAuthenticate rounds (KIP-43, KIP-152), and
    /// the session lifetime the broker grants (KIP-368).
    async fn authenticate(&mut self, sasl: &SaslSettings) -> Result<(), ConnError> {
        let mechanism = sasl.mechanism.name();
        let fail = |reason: String| ConnError::Auth {
            broker: self.broker.clone(),
            mechanism,
            reason,
        };
        let version = self.version_for(ApiKey::SaslHandshake)?;
        if version < 1 {
            return Err(fail(
                "the broker speaks only SaslHandshake v0 (unframed SASL); kmirror needs v1 (Kafka 1.0 or later)".into(),
            ));
        }
        let hs = self
            .send_version(
                version,
                &SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str(mechanism)),
            )
            .await?;
        if hs.error_code != 0 {
            let offered: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(fail(format!(
                "{}; the broker offers {}",
                code_name(hs.error_code),
                if offered.is_empty() {
                    "nothing".to_owned()
                } else {
                    offered.join(", ")
                }
            )));
        }
        let mut client = SaslClient::new(sasl.mechanism, sasl.credentials.clone());
        let mut message = client.initial();
        loop {
            let resp = self
                .send(&SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)))
                .await?;
            if resp.error_code != 0 {
                return Err(fail(format!(
                    "{}{}",
                    code_name(resp.error_code),
                    resp.error_message
                        .as_ref()
                        .map(|m| format!(" ({})", m.as_str()))
                        .unwrap_or_default()
                )));
            }
            if resp.session_lifetime_ms > 0 {
                // Renew at 85% of the lifetime, as Kafka's clients do at 85-95%.
                let renew = Duration::from_millis((resp.session_lifetime_ms as u64) * 85 / 100);
                self.reauthenticate_at = Some(tokio::time::Instant::now() + renew);
            }
            match client
                .step(&resp.auth_bytes)
                .map_err(|e| fail(e.to_string()))?
            {
                Step::Respond(next) => message = next,
                Step::Done => return Ok(()),
            }
        }
    }

    /// True once the SASL session is near its end: new requests should go to
    /// a re-authenticated connection (in-flight ones still complete here).
    pub fn needs_reauthentication(&self) -> bool {
        self.reauthenticate_at
            .is_some_and(|at| tokio::time::Instant::now() >= at)
    }

    /// Starts the tasks over an open transport (no version negotiation).
    pub fn over(io: Box<dyn Transport>, broker: &str, config: ConnConfig) -> Self {
        let (rd, wr) = tokio::io::split(io);
        let (tx, rx) = mpsc::channel(config.max_in_flight.max(1));
        let shared = Arc::new(Shared::default());
        let writer = tokio::spawn(write_loop(wr, rx, Arc::clone(&shared), broker.to_owned()));
        let reader = tokio::spawn(read_loop(
            rd,
            Arc::clone(&shared),
            broker.to_owned(),
            config.max_frame,
        ));
        Self {
            broker: broker.to_owned(),
            config,
            next_correlation: AtomicI32::new(1),
            tx,
            shared,
            versions: Negotiated::default(),
            tasks: [writer, reader],
            reauthenticate_at: None,
        }
    }

    /// ApiVersions, stepping down like Kafka's Java client when the broker
    /// does not speak the version sent (see [`crate::versions`]).
    async fn negotiate(&mut self) -> Result<(), ConnError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kmirror"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut version = API_VERSIONS_FIRST;
        loop {
            let resp = self.api_versions(version, &req).await?;
            match api_versions_step(version, &resp) {
                ApiVersionsStep::Done => {
                    self.versions = Negotiated::new(
                        resp.api_keys
                            .iter()
                            .map(|k| (k.api_key, k.min_version, k.max_version)),
                    );
                    return Ok(());
                }
                ApiVersionsStep::RetryAt(next) => {
                    tracing::debug!(
                        broker = self.broker,
                        sent = version,
                        retry = next,
                        "broker does not speak this ApiVersions version; retrying lower"
                    );
                    version = next;
                }
                ApiVersionsStep::Failed(code) => {
                    return Err(ConnError::ApiVersionsRefused {
                        broker: self.broker.clone(),
                        version,
                        code: code_name(code),
                    });
                }
            }
        }
    }

    /// One ApiVersions exchange at `version`, decoded with the v0 fallback.
    async fn api_versions(
        &self,
        version: i16,
        req: &ApiVersionsRequest,
    ) -> Result<ApiVersionsResponse, ConnError> {
        self.exchange(version, req, decode_api_versions).await
    }

    /// `host:port` of the broker.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Versions agreed with the broker.
    pub fn versions(&self) -> &Negotiated {
        &self.versions
    }

    /// True once the connection has failed; it must be replaced.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poison.get().is_some() || self.tx.is_closed()
    }

    /// The version `send` would use for `api`.
    pub fn version_for(&self, api: ApiKey) -> Result<i16, ConnError> {
        self.versions
            .version(api)
            .ok_or_else(|| ConnError::NoVersionMatch {
                broker: self.broker.clone(),
                api,
            })
    }

    /// Sends a request at the highest version both sides speak and the
    /// request type can encode ([`crate::versions::ours`] caps every API at
    /// its `R::VERSIONS`, so a broker advertising more never breaks us).
    pub async fn send<R: Request>(&self, req: &R) -> Result<R::Response, ConnError> {
        let version = self.version_for(api_key::<R>())?;
        debug_assert!(R::VERSIONS.min <= version && version <= R::VERSIONS.max);
        self.send_version(version, req).await
    }

    /// Sends a request at a given version.
    pub async fn send_version<R: Request>(
        &self,
        version: i16,
        req: &R,
    ) -> Result<R::Response, ConnError> {
        self.exchange(version, req, decode_response::<R>).await
    }

    /// Encodes `req` at `version`, sends it, and decodes the answer with `decode`.
    async fn exchange<R: Request>(
        &self,
        version: i16,
        req: &R,
        decode: impl FnOnce(i16, Bytes) -> Result<R::Response, crate::error::CodecError>,
    ) -> Result<R::Response, ConnError> {
        let api = api_key::<R>();
        let codec = |e| ConnError::Codec {
            broker: self.broker.clone(),
            api,
            source: Arc::new(e),
        };
        let correlation_id = self.next_correlation();
        let frame = encode_request(
            correlation_id,
            self.config.client_id.as_deref(),
            version,
            req,
        )
        .map_err(codec)?;
        let resp = self.roundtrip(api, correlation_id, vec![frame]).await?;
        decode(version, resp).map_err(codec)
    }

    /// Allocates a correlation id (for callers that encode frames themselves).
    pub fn next_correlation(&self) -> i32 {
        self.next_correlation
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(if c == i32::MAX { 1 } else { c + 1 })
            })
            .unwrap_or(1)
    }

    /// Writes a pre-encoded request frame given as chunks (vectored, so record
    /// batches need not be copied into one buffer) and returns the response frame.
    pub async fn roundtrip(
        &self,
        api: ApiKey,
        correlation_id: i32,
        chunks: Vec<Bytes>,
    ) -> Result<Bytes, ConnError> {
        self.submit(api, correlation_id, chunks).await?.wait().await
    }

    /// Queues a pre-encoded request frame for writing and returns a handle to
    /// its response. Requests submitted one after another reach the broker in
    /// that order (idempotent producers rely on it).
    pub async fn submit(
        &self,
        api: ApiKey,
        correlation_id: i32,
        chunks: Vec<Bytes>,
    ) -> Result<PendingResponse, ConnError> {
        if self.shared.poison.get().is_some() {
            return Err(self.shared.poisoned(&self.broker));
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Outgoing {
                correlation_id,
                chunks,
                reply,
            })
            .await
            .map_err(|_| self.shared.poisoned(&self.broker))?;
        Ok(PendingResponse {
            rx,
            api,
            correlation_id,
            timeout: self.config.request_timeout,
            deadline: tokio::time::Instant::now() + self.config.request_timeout,
            shared: Arc::clone(&self.shared),
            broker: self.broker.clone(),
        })
    }
}

/// A submitted request's response, not yet received.
#[derive(Debug)]
pub struct PendingResponse {
    /// Completed by the reader task.
    rx: oneshot::Receiver<Result<Bytes, ConnError>>,
    /// API, for errors.
    api: ApiKey,
    /// Correlation id, to forget the waiter on timeout.
    correlation_id: i32,
    /// Request timeout.
    timeout: Duration,
    /// When the request times out (fixed at submission, so waiting again
    /// after a cancelled wait does not extend it).
    deadline: tokio::time::Instant,
    /// Connection state (poison reason).
    shared: Arc<Shared>,
    /// `host:port`.
    broker: String,
}

impl PendingResponse {
    /// Waits for the response frame, up to the request timeout.
    ///
    /// Cancel safe: if this future is dropped, waiting again later resumes
    /// with the same response and deadline. Do not call it again once it
    /// has returned.
    pub async fn wait(&mut self) -> Result<Bytes, ConnError> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(self.shared.poisoned(&self.broker)),
            Err(_) => {
                if let Ok(mut p) = self.shared.pending.lock() {
                    p.remove(&self.correlation_id);
                }
                Err(ConnError::Timeout {
                    broker: self.broker.clone(),
                    api: self.api,
                    after: self.timeout,
                })
            }
        }
    }
}

async fn write_loop(
    wr: WriteHalf<Box<dyn Transport>>,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
    broker: String,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(out) = rx.recv().await {
        let mut next = Some(out);
        // Write everything queued, then flush once.
        while let Some(o) = next.take() {
            match shared.pending.lock() {
                Ok(mut p) => {
                    p.insert(o.correlation_id, o.reply);
                }
                Err(_) => return,
            }
            for c in &o.chunks {
                if let Err(e) = w.write_all(c).await {
                    shared.poison(
                        &broker,
                        ConnError::Io {
                            broker: broker.clone(),
                            source: Arc::new(e),
                        },
                    );
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = w.flush().await {
            shared.poison(
                &broker,
                ConnError::Io {
                    broker: broker.clone(),
                    source: Arc::new(e),
                },
            );
            return;
        }
    }
    let _ = w.shutdown().await;
}

async fn read_loop(
    mut rd: ReadHalf<Box<dyn Transport>>,
    shared: Arc<Shared>,
    broker: String,
    max_frame: usize,
) {
    let mut decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let Some(cid) = peek_correlation_id(&frame) else {
                        shared.poison(
                            &broker,
                            ConnError::Frame {
                                broker: broker.clone(),
                                source: crate::error::FrameError::TooShort { len: frame.len() },
                            },
                        );
                        return;
                    };
                    let waiter = shared.pending.lock().ok().and_then(|mut p| p.remove(&cid));
                    match waiter {
                        Some(w) => {
                            let _ = w.send(Ok(frame));
                        }
                        None => tracing::debug!(broker, cid, "response for no waiting request"),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.poison(
                        &broker,
                        ConnError::Frame {
                            broker: broker.clone(),
                            source: e,
                        },
                    );
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                shared.poison(
                    &broker,
                    ConnError::Io {
                        broker: broker.clone(),
                        source: Arc::new(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "broker closed the connection",
                        )),
                    },
                );
                return;
            }
            Ok(_) => {}
            Err(e) => {
                shared.poison(
                    &broker,
                    ConnError::Io {
                        broker: broker.clone(),
                        source: Arc::new(e),
                    },
                );
                return;
            }
        }
    }
}

/// Kafka's name of an error code.
fn code_name(code: i16) -> String {
    crate::error::ResponseError::try_from_code(code)
        .map(error_code_name)
        .unwrap_or_else(|| format!("error code {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::protocol::Encodable;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn config(timeout_ms: u64) -> ConnConfig {
        ConnConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            ..ConnConfig::default()
        }
    }

    /// Reads one request frame from the fake broker's side; returns its correlation id.
    async fn read_request(s: &mut DuplexStream) -> i32 {
        let len = s.read_u32().await.unwrap() as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        i32::from_be_bytes([body[4], body[5], body[6], body[7]])
    }

    /// Reads one request frame; returns its API version and correlation id.
    async fn read_request_version(s: &mut DuplexStream) -> (i16, i32) {
        let len = s.read_u32().await.unwrap() as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.unwrap();
        (
            i16::from_be_bytes([body[2], body[3]]),
            i32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        )
    }

    /// A response frame of raw body bytes after the v0 header.
    fn raw_frame(cid: i32, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&cid.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// An ApiVersions answer at `version` listing `apis` (key, min, max).
    fn api_versions_list(cid: i32, version: i16, apis: &[(ApiKey, i16, i16)]) -> Vec<u8> {
        let mut b = BytesMut::new();
        ApiVersionsResponse::default()
            .with_api_keys(
                apis.iter()
                    .map(|&(k, min, max)| {
                        ApiVersion::default()
                            .with_api_key(k as i16)
                            .with_min_version(min)
                            .with_max_version(max)
                    })
                    .collect(),
            )
            .encode(&mut b, version)
            .unwrap();
        raw_frame(cid, &b)
    }

    #[tokio::test]
    async fn kafka_2_1_answers_v3_with_a_v0_unsupported_version_body_and_we_step_down() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let mut conn = Connection::over(Box::new(client), "old:9092", config(5_000));
        let server = async {
            let (v, cid) = read_request_version(&mut broker).await;
            assert_eq!(v, 3);
            // UNSUPPORTED_VERSION in a v0 body, listing ApiVersions 0..=2.
            let body = [
                0x00, 0x23, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02,
            ];
            broker.write_all(&raw_frame(cid, &body)).await.unwrap();
            let (v, cid) = read_request_version(&mut broker).await;
            assert_eq!(v, 2, "retried at the broker's listed max");
            let apis = [
                (ApiKey::ApiVersions, 0, 2),
                (ApiKey::Metadata, 0, 7),
                (ApiKey::InitProducerId, 0, 6),
            ];
            broker
                .write_all(&api_versions_list(cid, 2, &apis))
                .await
                .unwrap();
            broker
        };
        let (r, _b) = tokio::join!(conn.negotiate(), server);
        r.unwrap();
        assert_eq!(conn.versions().version(ApiKey::Metadata), Some(7));
        // Capped at what kafka-protocol encodes, not the advertised 6.
        assert_eq!(conn.version_for(ApiKey::InitProducerId).unwrap(), 5);
    }

    #[tokio::test]
    async fn broker_listing_nothing_with_error_35_is_retried_at_v0() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let mut conn = Connection::over(Box::new(client), "old:9092", config(5_000));
        let server = async {
            let (v, cid) = read_request_version(&mut broker).await;
            assert_eq!(v, 3);
            let body = [0x00, 0x23, 0x00, 0x00, 0x00, 0x00];
            broker.write_all(&raw_frame(cid, &body)).await.unwrap();
            let (v, cid) = read_request_version(&mut broker).await;
            assert_eq!(v, 0);
            broker
                .write_all(&api_versions_list(cid, 0, &[(ApiKey::Fetch, 0, 10)]))
                .await
                .unwrap();
            broker
        };
        let (r, _b) = tokio::join!(conn.negotiate(), server);
        r.unwrap();
        assert_eq!(conn.versions().version(ApiKey::Fetch), Some(10));
    }

    #[tokio::test]
    async fn error_35_to_v0_or_another_error_fails_the_connection_typed() {
        for (first, code) in [(35i16, 35i16), (42, 42)] {
            let (client, mut broker) = tokio::io::duplex(1 << 16);
            let mut conn = Connection::over(Box::new(client), "odd:9092", config(5_000));
            let server = async {
                let (_, cid) = read_request_version(&mut broker).await;
                let mut body = first.to_be_bytes().to_vec();
                body.extend_from_slice(&[0, 0, 0, 0]);
                broker.write_all(&raw_frame(cid, &body)).await.unwrap();
                if first == 35 {
                    let (v, cid) = read_request_version(&mut broker).await;
                    assert_eq!(v, 0);
                    broker.write_all(&raw_frame(cid, &body)).await.unwrap();
                }
                broker
            };
            let (r, _b) = tokio::join!(conn.negotiate(), server);
            let err = r.unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConnError::ApiVersionsRefused { version, .. } if *version == if first == 35 { 0 } else { 3 }
                ),
                "{err:?}"
            );
            assert!(!err.is_retriable());
            assert!(err.to_string().contains(&code_name(code)), "{err}");
        }
    }

    /// An ApiVersions v0 answer; `marker` goes in the error code to tell answers apart.
    fn api_versions_frame(cid: i32, marker: i16) -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_i32(cid);
        ApiVersionsResponse::default()
            .with_error_code(marker)
            .encode(&mut b, 0)
            .unwrap();
        let mut f = (b.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&b);
        f
    }

    #[tokio::test]
    async fn pipelined_responses_are_matched_by_correlation_id_out_of_order() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let conn = Connection::over(Box::new(client), "fake:9092", config(5_000));
        let req = ApiVersionsRequest::default();
        let a = conn.send_version(0, &req);
        let b = conn.send_version(0, &req);
        let server = async {
            let c1 = read_request(&mut broker).await;
            let c2 = read_request(&mut broker).await;
            // Answer the second request first.
            broker.write_all(&api_versions_frame(c2, 2)).await.unwrap();
            broker.write_all(&api_versions_frame(c1, 1)).await.unwrap();
            broker
        };
        let (ra, rb, _broker) = tokio::join!(a, b, server);
        assert_eq!(ra.unwrap().error_code, 1);
        assert_eq!(rb.unwrap().error_code, 2);
    }

    #[tokio::test]
    async fn broker_disconnect_poisons_every_waiter_and_later_requests() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let conn = Connection::over(Box::new(client), "fake:9092", config(5_000));
        let req = MetadataRequest::default();
        let waiting = conn.send_version(1, &req);
        let server = async {
            read_request(&mut broker).await;
            drop(broker);
        };
        let (r, ()) = tokio::join!(waiting, server);
        assert!(matches!(r, Err(ConnError::Poisoned { .. })), "{r:?}");
        assert!(conn.is_poisoned());
        assert!(matches!(
            conn.send_version(1, &req).await,
            Err(ConnError::Poisoned { .. })
        ));
    }

    #[tokio::test]
    async fn oversized_frame_poisons_with_frame_error() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let mut cfg = config(5_000);
        cfg.max_frame = 1024;
        let conn = Connection::over(Box::new(client), "fake:9092", cfg);
        let req = ApiVersionsRequest::default();
        let waiting = conn.send_version(0, &req);
        let server = async {
            read_request(&mut broker).await;
            broker.write_all(&100_000u32.to_be_bytes()).await.unwrap();
            broker
        };
        let (r, _b) = tokio::join!(waiting, server);
        let Err(ConnError::Poisoned { source, .. }) = r else {
            panic!("{r:?}")
        };
        assert!(matches!(*source, ConnError::Frame { .. }), "{source:?}");
    }

    #[tokio::test]
    async fn timeout_fails_one_request_and_a_late_answer_is_ignored() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let conn = Connection::over(Box::new(client), "fake:9092", config(100));
        let req = ApiVersionsRequest::default();
        let r = conn.send_version(0, &req).await;
        assert!(matches!(r, Err(ConnError::Timeout { .. })), "{r:?}");
        let c1 = read_request(&mut broker).await;
        broker.write_all(&api_versions_frame(c1, 9)).await.unwrap();
        // The connection stays usable.
        let next = conn.send_version(0, &req);
        let server = async {
            let c2 = read_request(&mut broker).await;
            broker.write_all(&api_versions_frame(c2, 3)).await.unwrap();
        };
        let (r, ()) = tokio::join!(next, server);
        assert_eq!(r.unwrap().error_code, 3);
    }

    #[tokio::test]
    async fn garbage_response_is_a_codec_error_not_a_panic() {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let conn = Connection::over(Box::new(client), "fake:9092", config(5_000));
        let req = MetadataRequest::default();
        let waiting = conn.send_version(1, &req);
        let server = async {
            let cid = read_request(&mut broker).await;
            let mut f = 8u32.to_be_bytes().to_vec();
            f.extend_from_slice(&cid.to_be_bytes());
            f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
            broker.write_all(&f).await.unwrap();
            broker
        };
        let (r, _b) = tokio::join!(waiting, server);
        assert!(matches!(r, Err(ConnError::Codec { .. })), "{r:?}");
    }
}
