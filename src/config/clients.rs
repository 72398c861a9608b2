//! Kafka client settings in an MM2 file: `{alias}.consumer.*`, `{alias}.producer.*`,
//! `{alias}.admin.*`, their flow-level forms, and the connection keys (`security.protocol`,
//! `ssl.*`, `sasl.*`) every client of a cluster gets. One table, `LEAVES`, says which of them
//! kmirror reads (typed: a bad value is an error naming file, line and key) and why it ignores
//! the others (a warning).
//!
//! # kmirror's clients versus MM2's
//!
//! MM2 builds several Kafka clients per flow (mm2-reference §7.1, §10.1): a replication consumer,
//! a data producer, source and target admins, an offset-syncs producer, a target consumer.
//! kmirror opens one set of connections per cluster and flow side, configured from two of them:
//!
//! * the **source** side (fetches, topic discovery, topic config/ACL/group reads, offset syncs
//!   when `offset-syncs.topic.location=source`) from the replication consumer,
//!   [`FlowConfig::source_consumer`](super::FlowConfig::source_consumer): the source's
//!   connection keys, then `S->T.consumer.*`, `{S}.consumer.*`, `S->T.source.consumer.*`;
//! * the **target** side (produces, topic creation, progress, checkpoints, heartbeats, offset
//!   syncs when `=target`) from the data producer,
//!   [`FlowConfig::target_producer`](super::FlowConfig::target_producer): the target's
//!   connection keys, then `{T}.producer.*`, `S->T.producer.override.*`.
//!
//! The leaves `LEAVES` marks `Use::Read` are read from those two maps, and checked the way
//! Kafka's `ConfigDef` checks them: `buffer.memory = 32MB` or `isolation.level = read-committed`
//! is an **error**, as is an inline `# comment` after such a typed value; `engine::plan` never
//! falls back to a default for a value it cannot parse. Every other client setting gets a
//! **warning** saying why it means nothing to kmirror:
//!
//! * `{alias}.admin.*`, `S->T.admin.*`, `S->T.source.admin.*`, `S->T.target.admin.*`: kmirror
//!   has no separate admin client; its admin requests go over the side's connections above.
//! * MM2's offset-syncs producer (`S->T.producer.*`, `S->T.source.producer.*`,
//!   `S->T.target.producer.*`) and target consumer (`S->T.target.consumer.*`): likewise.
//! * `bootstrap.servers` under any client prefix (the seed document's
//!   `us-west.admin.bootstrap.servers`) or as `S->T.source.cluster.bootstrap.servers`: every
//!   connection to a cluster is bootstrapped from `{alias}.bootstrap.servers` (else the top-level
//!   `bootstrap.servers`).
//! * Consumer and producer settings kmirror has no use for, each with its reason: `acks`,
//!   `enable.idempotence` (kmirror's producer is always idempotent with `acks=all`), `linger.ms`,
//!   `batch.size` (it forwards the source's batches whole), `group.id`, `max.poll.records`, Java
//!   classes (`key.deserializer`, `interceptor.classes`), TLS/SASL settings of the JVM, ...
//! * A setting only another kind of Kafka client knows (`producer.isolation.level`): MM2's
//!   client ignores it too; the warning names the prefix that would work.
//! * A cluster's `consumer.*` when it is the source of no enabled flow, its `producer.*` when it
//!   is the target of no flow, its `offset.flush.interval.ms` when it is the target of no enabled
//!   flow (`role_checks`, once the flows are known).
//!
//! An unknown leaf close to one kmirror reads is an error (`consumer.isolation.levle`); any other
//! unknown leaf is a warning (Kafka's clients log and ignore unknown keys).
//!
//! # `auto.offset.reset`
//!
//! MM2 sets its replication consumer's `auto.offset.reset` to `earliest` unless the file sets it
//! (`MirrorSourceConfig.sourceConsumerConfig`: `putIfAbsent`), and since Kafka 3.7 (KAFKA-13988)
//! `MirrorSourceTask.initializeConsumer` does not seek partitions with no stored offset, so
//! `latest` makes MM2 skip what a never-replicated partition already holds. kmirror does the
//! same: `earliest` (or no value) starts a partition with no saved progress at its earliest
//! offset, `latest` at its end, and that start is saved before anything is forwarded, so a
//! `kill -9` right after never restarts at a newer end and skips what arrived in between (a gap
//! MM2 has). `none` and Kafka 4.0's `by_duration:...` are warnings (kmirror starts at the
//! earliest offset); any other value is an error, as MM2's consumer refuses it.
//!
//! # Socket buffers
//!
//! Kafka's Java clients call them `send.buffer.bytes` and `receive.buffer.bytes`; the seed
//! document's WAN advice uses the broker/librdkafka names `socket.send.buffer.bytes` and
//! `socket.receive.buffer.bytes`. kmirror reads both (the Java name wins when both are set):
//! `-1` keeps the OS default; `0` is an error, as Java refuses it when it connects.

use super::lint::{self, Ty};
use super::mm2::{self, Collector, ErrorKind, FlowConfig, RawMap, WarningKind};

/// kmirror reads it for its source side (replication consumer settings).
const SRC: u8 = 1;
/// kmirror reads it for its target side (data producer settings).
const TGT: u8 = 2;
/// Both sides (connection settings).
const BOTH: u8 = SRC | TGT;

/// Defined by Kafka's consumer.
const KC: u8 = 1;
/// Defined by Kafka's producer.
const KP: u8 = 2;
/// Defined by Kafka's admin client.
const KA: u8 = 4;
/// Every Kafka client (`CommonClientConfigs`, TLS, SASL).
const ALL: u8 = KC | KP | KA;

/// What kmirror does with a client setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Read for these sides (`SRC`, `TGT`).
    Read(u8),
    /// Means nothing to kmirror.
    Unused(&'static str),
    /// Configures Java code.
    Jvm(&'static str),
    /// A feature kmirror lacks.
    Unsupported(&'static str),
}

/// One Kafka client setting, as written after the client prefix.
#[derive(Debug)]
pub(crate) struct Leaf {
    /// The key; a name ending in `.` is a prefix (`sasl.oauthbearer.`).
    pub(crate) name: &'static str,
    /// Which Kafka clients define it (`KC`, `KP`, `KA`).
    kafka: u8,
    /// How `ConfigDef` parses it.
    pub(crate) ty: Ty,
    /// What kmirror does with it.
    pub(crate) use_: Use,
}

macro_rules! leaf {
    ($name:expr, $kafka:expr, $ty:expr, $use_:expr) => {
        Leaf {
            name: $name,
            kafka: $kafka,
            ty: $ty,
            use_: $use_,
        }
    };
}

const NOT_CONFIGURABLE: &str = "kmirror has no equivalent setting";
const JAVA_CLASS: &str = "names a Java class";
const JAVA_TLS: &str = "a setting of Java's TLS provider; kmirror's TLS is rustls";
const CLIENT_METRICS: &str =
    "Java client metrics; kmirror exports its own metrics over HTTP (/metrics)";
const NO_GROUP: &str = "MM2's replication consumer assigns its partitions itself and joins no consumer group; neither does kmirror";
const NO_COMMIT: &str = "MM2 forces enable.auto.commit=false; kmirror commits nothing to the source and keeps its progress in kmirror-offsets.<source>.internal on the target";
const SERDE: &str = "Java (de)serializer classes; kmirror copies record bytes as they are";
const IDEMPOTENT: &str = "kmirror's producer is always idempotent (its own producer id) and waits for all in-sync replicas (acks=all), so retries never duplicate";
const WHOLE_BATCHES: &str =
    "kmirror forwards the source's record batches as they are instead of batching records itself";
const RETRIES: &str =
    "kmirror retries failed requests itself, each attempt bounded by request.timeout.ms";
const SAME_PARTITION: &str = "every record goes to the partition number it has on the source";
const NOT_TRANSACTIONAL: &str =
    "kmirror's producer is not transactional (exactly-once delivery is not implemented)";
const CODEC_LEVEL: &str = "kmirror re-encodes a batch only when compression.type differs from the source codec, at that codec's default level";
const BACKOFF: &str = "kmirror reconnects with the retry.backoff.ms / retry.backoff.max.ms backoff";
const SASL_LOGIN: &str = "Java login-module refresh settings (OAUTHBEARER tokens, Kerberos tickets); kmirror's PLAIN and SCRAM read their credentials from sasl.jaas.config";
const SOCKET_BUFFER: &str = "-1 (the OS default) or 1 to 2147483647";

/// Every Kafka client setting kmirror knows (Kafka 3.x/4.0 `CommonClientConfigs`,
/// `ConsumerConfig`, `ProducerConfig`, `AdminClientConfig`, TLS and SASL), exact names before the
/// prefixes. `Read` entries are what `engine::plan` takes from a flow's
/// [`source_consumer`](FlowConfig::source_consumer) and
/// [`target_producer`](FlowConfig::target_producer) maps (and `protocol`'s
/// `security::from_props` for `security.protocol`, `ssl.*`, `sasl.*`).
pub(crate) static LEAVES: &[Leaf] = &[
    // Connection settings, read on both sides.
    leaf!("bootstrap.servers", ALL, Ty::Hosts, Use::Unused(BOOTSTRAP)),
    leaf!("client.id", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("request.timeout.ms", ALL, Ty::IntMin(0), Use::Read(BOTH)),
    leaf!("retry.backoff.ms", ALL, Ty::LongMin(0), Use::Read(BOTH)),
    leaf!("retry.backoff.max.ms", ALL, Ty::LongMin(0), Use::Read(BOTH)),
    leaf!("send.buffer.bytes", ALL, Ty::IntMin(-1), Use::Read(BOTH)),
    leaf!("receive.buffer.bytes", ALL, Ty::IntMin(-1), Use::Read(BOTH)),
    // librdkafka's (and the broker's) names; kmirror reads them too.
    leaf!(
        "socket.send.buffer.bytes",
        ALL,
        Ty::IntMin(-1),
        Use::Read(BOTH)
    ),
    leaf!(
        "socket.receive.buffer.bytes",
        ALL,
        Ty::IntMin(-1),
        Use::Read(BOTH)
    ),
    leaf!(
        "socket.connection.setup.timeout.max.ms",
        ALL,
        Ty::LongMin(0),
        Use::Read(BOTH)
    ),
    leaf!(
        "security.protocol",
        ALL,
        Ty::ChoiceNoCase(&["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]),
        Use::Read(BOTH)
    ),
    leaf!("ssl.truststore.type", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.truststore.location", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.truststore.password", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.truststore.certificates", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.keystore.type", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.keystore.location", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.keystore.password", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("ssl.keystore.key", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!(
        "ssl.keystore.certificate.chain",
        ALL,
        Ty::Str,
        Use::Read(BOTH)
    ),
    leaf!("ssl.key.password", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!(
        "ssl.endpoint.identification.algorithm",
        ALL,
        Ty::Str,
        Use::Read(BOTH)
    ),
    leaf!("ssl.enabled.protocols", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("sasl.mechanism", ALL, Ty::Str, Use::Read(BOTH)),
    leaf!("sasl.jaas.config", ALL, Ty::Str, Use::Read(BOTH)),
    // Connection settings kmirror does not use.
    leaf!(
        "ssl.protocol",
        ALL,
        Ty::Str,
        Use::Unused(
            "the protocol of Java's SSLContext; kmirror offers the versions ssl.enabled.protocols lists (TLSv1.2, TLSv1.3)"
        )
    ),
    leaf!(
        "ssl.cipher.suites",
        ALL,
        Ty::List,
        Use::Unused("kmirror's TLS (rustls) offers its own list of secure cipher suites")
    ),
    leaf!("ssl.provider", ALL, Ty::Str, Use::Jvm(JAVA_TLS)),
    leaf!("ssl.keymanager.algorithm", ALL, Ty::Str, Use::Jvm(JAVA_TLS)),
    leaf!(
        "ssl.trustmanager.algorithm",
        ALL,
        Ty::Str,
        Use::Jvm(JAVA_TLS)
    ),
    leaf!(
        "ssl.secure.random.implementation",
        ALL,
        Ty::Str,
        Use::Jvm(JAVA_TLS)
    ),
    leaf!(
        "ssl.engine.factory.class",
        ALL,
        Ty::Class,
        Use::Jvm(JAVA_CLASS)
    ),
    leaf!("security.providers", ALL, Ty::Str, Use::Jvm(JAVA_TLS)),
    leaf!("sasl.login.class", ALL, Ty::Class, Use::Jvm(JAVA_CLASS)),
    leaf!(
        "sasl.login.callback.handler.class",
        ALL,
        Ty::Class,
        Use::Jvm(JAVA_CLASS)
    ),
    leaf!(
        "sasl.client.callback.handler.class",
        ALL,
        Ty::Class,
        Use::Jvm(JAVA_CLASS)
    ),
    leaf!("sasl.login.", ALL, Ty::Str, Use::Jvm(SASL_LOGIN)),
    leaf!(
        "sasl.kerberos.",
        ALL,
        Ty::Str,
        Use::Unsupported("SASL GSSAPI (Kerberos) is not implemented by kmirror")
    ),
    leaf!(
        "sasl.oauthbearer.",
        ALL,
        Ty::Str,
        Use::Unsupported("SASL OAUTHBEARER is not implemented by kmirror")
    ),
    leaf!(
        "socket.connection.setup.timeout.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(
            "kmirror's connect timeout is socket.connection.setup.timeout.max.ms, without Java's exponential growth from this initial value"
        )
    ),
    leaf!(
        "client.dns.lookup",
        ALL,
        Ty::Choice(&[
            "use_all_dns_ips",
            "resolve_canonical_bootstrap_servers_only"
        ]),
        Use::Unused(NOT_CONFIGURABLE)
    ),
    leaf!(
        "connections.max.idle.ms",
        ALL,
        Ty::Long,
        Use::Unused("kmirror keeps its broker connections open")
    ),
    leaf!(
        "metadata.max.age.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(
            "kmirror refreshes metadata when a broker answers that it moved, and discovers topics every refresh.topics.interval.seconds"
        )
    ),
    leaf!(
        "metadata.recovery.strategy",
        ALL,
        Ty::Choice(&["none", "rebootstrap"]),
        Use::Unused(NOT_CONFIGURABLE)
    ),
    leaf!(
        "metadata.recovery.rebootstrap.trigger.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(NOT_CONFIGURABLE)
    ),
    leaf!(
        "reconnect.backoff.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(BACKOFF)
    ),
    leaf!(
        "reconnect.backoff.max.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(BACKOFF)
    ),
    leaf!("metric.reporters", ALL, Ty::List, Use::Jvm(CLIENT_METRICS)),
    leaf!(
        "metrics.num.samples",
        ALL,
        Ty::IntMin(1),
        Use::Unused(CLIENT_METRICS)
    ),
    leaf!(
        "metrics.sample.window.ms",
        ALL,
        Ty::LongMin(0),
        Use::Unused(CLIENT_METRICS)
    ),
    leaf!(
        "metrics.recording.level",
        ALL,
        Ty::Choice(&["INFO", "DEBUG", "TRACE"]),
        Use::Unused(CLIENT_METRICS)
    ),
    leaf!(
        "auto.include.jmx.reporter",
        ALL,
        Ty::Bool,
        Use::Unused(CLIENT_METRICS)
    ),
    leaf!(
        "enable.metrics.push",
        ALL,
        Ty::Bool,
        Use::Unused(CLIENT_METRICS)
    ),
    leaf!(
        "interceptor.classes",
        KC | KP,
        Ty::List,
        Use::Jvm("client interceptors are Java classes")
    ),
    leaf!(
        "default.api.timeout.ms",
        KC | KA,
        Ty::IntMin(0),
        Use::Unused("kmirror bounds each request with request.timeout.ms")
    ),
    leaf!("retries", KP | KA, Ty::IntMin(0), Use::Unused(RETRIES)),
    // The replication consumer (source side).
    leaf!(
        "isolation.level",
        KC,
        Ty::Choice(&["read_committed", "read_uncommitted"]),
        Use::Read(SRC)
    ),
    leaf!("fetch.max.wait.ms", KC, Ty::IntMin(0), Use::Read(SRC)),
    leaf!("fetch.min.bytes", KC, Ty::IntMin(0), Use::Read(SRC)),
    leaf!("fetch.max.bytes", KC, Ty::IntMin(0), Use::Read(SRC)),
    leaf!(
        "max.partition.fetch.bytes",
        KC,
        Ty::IntMin(0),
        Use::Read(SRC)
    ),
    // `earliest` is what kmirror does; other values are warned about (module docs).
    leaf!(
        "auto.offset.reset",
        KC,
        Ty::Choice(&["earliest", "latest", "none"]),
        Use::Read(SRC)
    ),
    leaf!("enable.auto.commit", KC, Ty::Bool, Use::Unused(NO_COMMIT)),
    leaf!(
        "auto.commit.interval.ms",
        KC,
        Ty::IntMin(0),
        Use::Unused(NO_COMMIT)
    ),
    leaf!("group.id", KC, Ty::Str, Use::Unused(NO_GROUP)),
    leaf!("group.instance.id", KC, Ty::Str, Use::Unused(NO_GROUP)),
    leaf!(
        "group.protocol",
        KC,
        Ty::ChoiceNoCase(&["classic", "consumer"]),
        Use::Unused(NO_GROUP)
    ),
    leaf!("group.remote.assignor", KC, Ty::Str, Use::Unused(NO_GROUP)),
    leaf!("session.timeout.ms", KC, Ty::Int, Use::Unused(NO_GROUP)),
    leaf!("heartbeat.interval.ms", KC, Ty::Int, Use::Unused(NO_GROUP)),
    leaf!(
        "max.poll.interval.ms",
        KC,
        Ty::IntMin(1),
        Use::Unused(NO_GROUP)
    ),
    leaf!(
        "partition.assignment.strategy",
        KC,
        Ty::List,
        Use::Unused(NO_GROUP)
    ),
    leaf!(
        "max.poll.records",
        KC,
        Ty::IntMin(1),
        Use::Unused(
            "kmirror has no poll loop: it forwards whole fetched batches, bounded by the fetch sizes"
        )
    ),
    leaf!("check.crcs", KC, Ty::Bool, Use::Unused(NOT_CONFIGURABLE)),
    leaf!(
        "exclude.internal.topics",
        KC,
        Ty::Bool,
        Use::Unused(
            "the replication consumer subscribes to nothing; topics.exclude and MM2's internal-topic rules select what replicates"
        )
    ),
    leaf!(
        "allow.auto.create.topics",
        KC,
        Ty::Bool,
        Use::Unused("kmirror never creates source topics")
    ),
    leaf!(
        "client.rack",
        KC,
        Ty::Str,
        Use::Unused("kmirror fetches from partition leaders (no rack-aware follower fetching)")
    ),
    leaf!("key.deserializer", KC, Ty::Class, Use::Jvm(SERDE)),
    leaf!("value.deserializer", KC, Ty::Class, Use::Jvm(SERDE)),
    // The data producer (target side).
    leaf!(
        "compression.type",
        KP,
        // `producer` (keep the source codec, kmirror's default) is kmirror's own.
        Ty::Choice(&["none", "gzip", "snappy", "lz4", "zstd", "producer"]),
        Use::Read(TGT)
    ),
    leaf!("buffer.memory", KP, Ty::LongMin(0), Use::Read(TGT)),
    leaf!(
        "max.in.flight.requests.per.connection",
        KP,
        Ty::IntMin(1),
        Use::Read(TGT)
    ),
    leaf!("max.request.size", KP, Ty::IntMin(0), Use::Read(TGT)),
    leaf!(
        "acks",
        KP,
        Ty::ChoiceNoCase(&["all", "-1", "0", "1"]),
        Use::Unused(IDEMPOTENT)
    ),
    leaf!("enable.idempotence", KP, Ty::Bool, Use::Unused(IDEMPOTENT)),
    leaf!("linger.ms", KP, Ty::LongMin(0), Use::Unused(WHOLE_BATCHES)),
    leaf!("batch.size", KP, Ty::IntMin(0), Use::Unused(WHOLE_BATCHES)),
    leaf!(
        "delivery.timeout.ms",
        KP,
        Ty::IntMin(0),
        Use::Unused(RETRIES)
    ),
    leaf!(
        "max.block.ms",
        KP,
        Ty::LongMin(0),
        Use::Unused(
            "kmirror never blocks on buffer space: it fetches ahead only up to buffer.memory"
        )
    ),
    leaf!("partitioner.class", KP, Ty::Class, Use::Jvm(SAME_PARTITION)),
    leaf!(
        "partitioner.ignore.keys",
        KP,
        Ty::Bool,
        Use::Unused(SAME_PARTITION)
    ),
    leaf!(
        "partitioner.adaptive.partitioning.enable",
        KP,
        Ty::Bool,
        Use::Unused(SAME_PARTITION)
    ),
    leaf!(
        "partitioner.availability.timeout.ms",
        KP,
        Ty::LongMin(0),
        Use::Unused(SAME_PARTITION)
    ),
    leaf!(
        "transactional.id",
        KP,
        Ty::Str,
        Use::Unused(NOT_TRANSACTIONAL)
    ),
    leaf!(
        "transaction.timeout.ms",
        KP,
        Ty::Int,
        Use::Unused(NOT_TRANSACTIONAL)
    ),
    leaf!(
        "transaction.two.phase.commit.enable",
        KP,
        Ty::Bool,
        Use::Unused(NOT_TRANSACTIONAL)
    ),
    leaf!(
        "metadata.max.idle.ms",
        KP,
        Ty::LongMin(0),
        Use::Unused(NOT_CONFIGURABLE)
    ),
    leaf!(
        "compression.gzip.level",
        KP,
        Ty::Int,
        Use::Unused(CODEC_LEVEL)
    ),
    leaf!(
        "compression.lz4.level",
        KP,
        Ty::Int,
        Use::Unused(CODEC_LEVEL)
    ),
    leaf!(
        "compression.zstd.level",
        KP,
        Ty::Int,
        Use::Unused(CODEC_LEVEL)
    ),
    leaf!("key.serializer", KP, Ty::Class, Use::Jvm(SERDE)),
    leaf!("value.serializer", KP, Ty::Class, Use::Jvm(SERDE)),
];

const BOOTSTRAP: &str = "kmirror bootstraps every connection to a cluster (consumer, producer and admin requests alike) from {alias}.bootstrap.servers, else the top-level bootstrap.servers; set the address there";

/// Why a `bootstrap.servers` after a client or flow prefix is ignored, naming the cluster when
/// the key says which (`us-west.admin.bootstrap.servers`, `A->B.source.cluster.bootstrap.servers`;
/// `tail` is the key after the alias or flow, e.g. `admin.bootstrap.servers`).
fn bootstrap_reason(key: &str, tail: &str) -> String {
    let head = key
        .strip_suffix(tail)
        .and_then(|head| head.strip_suffix('.'));
    let alias = match head.map(|h| (h, h.split_once("->"))) {
        Some((h, None)) => Some(h),
        Some((_, Some((s, _)))) if tail.starts_with("source.") => Some(s),
        Some((_, Some((_, t)))) if tail.starts_with("target.") => Some(t),
        _ => None,
    };
    match alias {
        Some(alias) => format!(
            "kmirror bootstraps every connection to {alias} (consumer, producer and admin requests alike) from {alias}.bootstrap.servers, else the top-level bootstrap.servers; set the address there"
        ),
        None => BOOTSTRAP.to_string(),
    }
}

/// The client a prefixed key configures in MM2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The replication consumer (`{S}.consumer.*`, `S->T.consumer.*`,
    /// `S->T.source.consumer.*`): kmirror's source side.
    Consumer,
    /// The data producer (`{T}.producer.*`, `S->T.producer.override.*`): kmirror's target side.
    Producer,
    /// An admin client (`{alias}.admin.*`, `S->T.admin.*`, `S->T.source|target.admin.*`).
    Admin,
    /// MM2's offset-syncs producer (`S->T.producer.*`, `S->T.source|target.producer.*`).
    OffsetSyncsProducer,
    /// MM2's target consumer (`S->T.target.consumer.*`).
    TargetConsumer,
}

impl Role {
    /// The Kafka client type, as a `Leaf::kafka` bit.
    fn kafka(self) -> u8 {
        match self {
            Role::Consumer | Role::TargetConsumer => KC,
            Role::Producer | Role::OffsetSyncsProducer => KP,
            Role::Admin => KA,
        }
    }

    /// The kmirror side that reads it, as a `Use::Read` bit.
    fn side(self) -> u8 {
        match self {
            Role::Consumer => SRC,
            Role::Producer => TGT,
            _ => 0,
        }
    }

    fn kafka_name(self) -> &'static str {
        match self {
            Role::Consumer | Role::TargetConsumer => "consumer",
            Role::Producer | Role::OffsetSyncsProducer => "producer",
            Role::Admin => "admin client",
        }
    }
}

/// The client a key with this (strong) prefix configures, in a flow-level or cluster-level key.
pub(crate) fn role_of(flow: bool, prefix: &str) -> Option<Role> {
    Some(match (flow, prefix) {
        (false, "consumer.") | (true, "consumer." | "source.consumer.") => Role::Consumer,
        (false, "producer.") | (true, "producer.override.") => Role::Producer,
        (false, "admin.") | (true, "admin." | "source.admin." | "target.admin.") => Role::Admin,
        (true, "producer." | "source.producer." | "target.producer.") => Role::OffsetSyncsProducer,
        (true, "target.consumer.") => Role::TargetConsumer,
        _ => return None,
    })
}

/// The table entry for a leaf: its exact name, else the longest prefix entry.
pub(crate) fn find(leaf: &str) -> Option<&'static Leaf> {
    LEAVES
        .iter()
        .find(|l| l.name == leaf && !leaf.ends_with('.'))
        .or_else(|| {
            LEAVES
                .iter()
                .filter(|l| {
                    l.name.ends_with('.') && leaf.starts_with(l.name) && leaf.len() > l.name.len()
                })
                .max_by_key(|l| l.name.len())
        })
}

fn read_by(l: &Leaf, role: Role) -> bool {
    matches!(l.use_, Use::Read(sides) if sides & role.side() != 0) && l.kafka & role.kafka() != 0
}

/// The type of a leaf kmirror reads for this client, for deciding whether an inline comment
/// changes its meaning.
pub(crate) fn read_type(role: Role, leaf: &str) -> Option<Ty> {
    find(leaf).filter(|l| read_by(l, role)).map(|l| l.ty)
}

/// Checks a client value as Kafka's `ConfigDef` would, plus what Java refuses later (a socket
/// buffer of 0).
fn check(l: &Leaf, value: &str) -> Result<(), ErrorKind> {
    let t = mm2::java_trim(value);
    if l.name == "auto.offset.reset" && t.starts_with("by_duration:") {
        return Ok(());
    }
    mm2::check_value(l.ty, value)?;
    if l.name.ends_with("buffer.bytes") && t.parse::<i64>().is_ok_and(|n| n == 0) {
        return Err(ErrorKind::OutOfRange {
            value: t.to_string(),
            expected: SOCKET_BUFFER,
        });
    }
    Ok(())
}

/// The number a numeric client setting holds, checked against `LEAVES` (for `engine::plan`,
/// which reads the maps the config layer has already checked: an error here means the map did
/// not come from a checked file).
pub fn number(leaf: &str, value: &str) -> Result<i64, ErrorKind> {
    let ty = find(leaf).map_or(Ty::Long, |l| l.ty);
    mm2::check_value(ty, value)?;
    let n = mm2::parse_number(value, "a whole number")?;
    if leaf.ends_with("buffer.bytes") && n == 0 {
        return Err(ErrorKind::OutOfRange {
            value: n.to_string(),
            expected: SOCKET_BUFFER,
        });
    }
    Ok(n)
}

fn note(u: Use) -> Option<WarningKind> {
    match u {
        Use::Read(_) => None,
        Use::Unused(r) => Some(WarningKind::UnusedByKmirror {
            reason: r.to_string(),
        }),
        Use::Jvm(r) => Some(WarningKind::JvmOnly {
            reason: r.to_string(),
        }),
        Use::Unsupported(r) => Some(WarningKind::UnsupportedByKmirror {
            reason: r.to_string(),
        }),
    }
}

/// A bad value of a setting kmirror ignores: MM2 would refuse it, kmirror warns.
fn check_ignored(line: usize, key: &str, l: &Leaf, value: &str, c: &mut Collector) {
    if let Err(kind) = check(l, value) {
        let problem = c.redact(key, kind).to_string();
        c.warn(
            Some(line),
            key,
            WarningKind::InvalidIgnoredValue { problem },
        );
    }
}

/// Why kmirror ignores every setting of a client it does not build.
fn role_reason(role: Role) -> &'static str {
    match role {
        Role::Admin => {
            "kmirror has no separate admin client: its admin requests to a cluster go over the connections configured by the flow's replication consumer ({source}.consumer.*) or data producer ({target}.producer.*)"
        }
        Role::OffsetSyncsProducer => {
            "kmirror writes offset syncs over the connections configured by the flow's replication consumer ({source}.consumer.*, offset-syncs.topic.location=source) or data producer ({target}.producer.*, =target), with no producer of its own"
        }
        Role::TargetConsumer => {
            "kmirror reads the target over the connections configured by the flow's data producer ({target}.producer.*), with no consumer of its own"
        }
        Role::Consumer | Role::Producer => "",
    }
}

/// Lints `key` = `{prefix}{leaf}` (cluster- or flow-level) for the client `role`: type errors
/// for what kmirror reads, a warning for everything else.
pub(crate) fn lint_leaf(
    line: usize,
    key: &str,
    role: Role,
    prefix: &str,
    leaf: &str,
    value: &str,
    c: &mut Collector,
) {
    let value = lint::recover_value(value);
    let found = find(leaf);
    if leaf == "bootstrap.servers" {
        if let Some(l) = found {
            check_ignored(line, key, l, value, c);
        }
        let reason = bootstrap_reason(key, &format!("{prefix}{leaf}"));
        c.warn(Some(line), key, WarningKind::UnusedByKmirror { reason });
        return;
    }
    if matches!(role, Role::Consumer | Role::Producer) {
        lint_read_client(line, key, role, prefix, leaf, value, found, c);
        return;
    }
    if let Some(l) = found {
        check_ignored(line, key, l, value, c);
    }
    let kind = if role == Role::OffsetSyncsProducer && prefix == "producer." {
        // Kept from MM2's point of view: where a flow-level producer.* setting goes.
        WarningKind::Ineffective {
            reason: format!(
                "in MM2 a flow-level producer.* setting reaches only the offset-syncs producer; replicated records are written with {{target}}.producer.* and {{source}}->{{target}}.producer.override.*; ignored by kmirror: {}",
                role_reason(role)
            ),
        }
    } else {
        WarningKind::UnusedByKmirror {
            reason: role_reason(role).to_string(),
        }
    };
    c.warn(Some(line), key, kind);
}

/// `lint_leaf` for the two clients kmirror's connections are configured from.
#[allow(clippy::too_many_arguments)]
fn lint_read_client(
    line: usize,
    key: &str,
    role: Role,
    prefix: &str,
    leaf: &str,
    value: &str,
    found: Option<&'static Leaf>,
    c: &mut Collector,
) {
    let other = match role {
        Role::Consumer => Role::Producer,
        _ => Role::Consumer,
    };
    let Some(l) = found else {
        let near = lint::closest(
            leaf,
            LEAVES
                .iter()
                .filter(|l| read_by(l, role) && !l.name.ends_with('.'))
                .map(|l| l.name),
        );
        match near {
            Some(n) => c.error(
                Some(line),
                key,
                ErrorKind::UnknownKey {
                    suggestion: Some(format!("{prefix}{n}")),
                },
            ),
            None => c.warn(Some(line), key, WarningKind::UnknownKey),
        }
        return;
    };
    if l.kafka & role.kafka() == 0 {
        let hint = if read_by(l, other) {
            format!(
                "; set it for the {} ({}{leaf})",
                other.kafka_name(),
                match other {
                    Role::Consumer => "{source}.consumer.",
                    _ => "{target}.producer.",
                }
            )
        } else {
            String::new()
        };
        c.warn(
            Some(line),
            key,
            WarningKind::IgnoredByMm2 {
                reason: format!(
                    "{leaf} is not a Kafka {} setting, so MM2's {} ignores it, and so does kmirror{hint}",
                    role.kafka_name(),
                    role.kafka_name()
                ),
            },
        );
        return;
    }
    if !read_by(l, role) {
        check_ignored(line, key, l, value, c);
        if let Some(w) = note(l.use_) {
            c.warn(Some(line), key, w);
        }
        return;
    }
    if let Err(kind) = check(l, value) {
        c.error(Some(line), key, kind);
        return;
    }
    let t = mm2::java_trim(value);
    match leaf {
        "auto.offset.reset" if t != "earliest" && t != "latest" => {
            let shown = c.shown(key, t).into_owned();
            c.warn(
                Some(line),
                key,
                WarningKind::UnsupportedByKmirror {
                    reason: format!(
                        "auto.offset.reset={shown}: kmirror starts a partition it has never replicated at its earliest offset (MM2's default), so it copies the whole retained log of such partitions; only earliest and latest are honoured"
                    ),
                },
            );
        }
        "max.in.flight.requests.per.connection" if t.parse::<i64>().is_ok_and(|n| n > 5) => {
            c.warn(
                Some(line),
                key,
                WarningKind::Ineffective {
                    reason: format!(
                        "kmirror's producer is idempotent and keeps at most 5 produce requests in flight per partition; {t} acts as 5"
                    ),
                },
            );
        }
        _ => {}
    }
}

/// Lints a connection setting (`security.protocol`, `ssl.*`, `sasl.*`, `bootstrap.servers`)
/// written without a client prefix: at top level, per cluster, or per flow after
/// `flow_cluster` = `source.cluster.` / `target.cluster.` (whose values are type-checked here;
/// the other scopes' are checked by the key specs).
pub(crate) fn lint_connection(
    line: usize,
    key: &str,
    leaf: &str,
    value: &str,
    flow_cluster: Option<&str>,
    c: &mut Collector,
) {
    let value = lint::recover_value(value);
    if leaf == "bootstrap.servers" {
        if let Some(prefix) = flow_cluster {
            let reason = bootstrap_reason(key, &format!("{prefix}{leaf}"));
            c.warn(Some(line), key, WarningKind::UnusedByKmirror { reason });
        }
        return;
    }
    if !mm2::is_connection_key(leaf) {
        return;
    }
    match find(leaf) {
        Some(l) if matches!(l.use_, Use::Read(_)) => {
            if flow_cluster.is_some()
                && let Err(kind) = check(l, value)
            {
                c.error(Some(line), key, kind);
            }
        }
        Some(l) => {
            check_ignored(line, key, l, value, c);
            if let Some(w) = note(l.use_) {
                c.warn(Some(line), key, w);
            }
        }
        None => c.warn(Some(line), key, WarningKind::UnknownKey),
    }
}

/// Cluster-level settings kmirror reads only in one role of the cluster: `{alias}.consumer.*`
/// for the source of an enabled flow, `{alias}.producer.*` for the target of any flow (heartbeats
/// included), `{alias}.offset.flush.interval.ms` for the target of an enabled flow. Run once the
/// flows are known; nothing is said when no flow is enabled (that has its own warning).
pub(crate) fn role_checks(raw: &RawMap, aliases: &[&str], flows: &[FlowConfig], c: &mut Collector) {
    if !flows.iter().any(|f| f.enabled) {
        return;
    }
    for (key, r) in raw {
        let Some(alias) = aliases
            .iter()
            .filter(|a| {
                key.len() > a.len() && key.starts_with(**a) && key[a.len()..].starts_with('.')
            })
            .max_by_key(|a| a.len())
        else {
            continue;
        };
        let sub = &key[alias.len() + 1..];
        let source = flows.iter().any(|f| f.enabled && f.source == *alias);
        let target = flows.iter().any(|f| f.target == *alias);
        let enabled_target = flows.iter().any(|f| f.enabled && f.target == *alias);
        let reason = if sub.starts_with("consumer.") && sub.len() > 9 && !source {
            format!(
                "{alias} is the source of no enabled flow, and kmirror reads {alias}.consumer.* only to replicate from {alias}"
            )
        } else if sub.starts_with("producer.") && sub.len() > 9 && !target {
            format!(
                "{alias} is the target of no flow, and kmirror reads {alias}.producer.* only to write to {alias}"
            )
        } else if sub == "offset.flush.interval.ms" && !enabled_target {
            format!(
                "{alias} is the target of no enabled flow, and kmirror reads {alias}.offset.flush.interval.ms only as the progress-save cadence of the flows into {alias}"
            )
        } else {
            continue;
        };
        c.warn(Some(r.line), key, WarningKind::UnusedByKmirror { reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::mm2::{ConfigErrors, Diagnostic, Mm2Config, parse_str};

    /// Two clusters and an enabled flow, for tests that add a few lines (from line 5).
    const BASE: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    fn ok(text: &str) -> Mm2Config {
        match parse_str(text, "t.properties") {
            Ok(cfg) => cfg,
            Err(e) => panic!("expected a valid config, got:\n{e}"),
        }
    }

    fn bad(text: &str) -> ConfigErrors {
        match parse_str(text, "t.properties") {
            Ok(cfg) => panic!("expected errors, got {:?}", cfg.warnings),
            Err(e) => e,
        }
    }

    fn rendered(w: &[Diagnostic]) -> Vec<String> {
        w.iter().map(ToString::to_string).collect()
    }

    /// The warnings on `line`, rendered.
    fn warnings_on(w: &[Diagnostic], line: usize) -> Vec<String> {
        w.iter()
            .filter(|d| d.line == Some(line))
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn bad_values_of_client_settings_kmirror_reads_are_errors_naming_line_and_key() {
        let e = bad(&format!(
            "{BASE}B.producer.buffer.memory = 32MB\n\
             A.consumer.isolation.level = read-committed\n\
             A.consumer.fetch.max.wait.ms = 100  # low\n\
             A->B.source.consumer.fetch.min.bytes = -1\n\
             A->B.producer.override.max.request.size = 1e6\n\
             A.consumer.request.timeout.ms = 3000000000\n\
             A->B.consumer.send.buffer.bytes = 0\n\
             B.producer.compression.type = GZIP\n"
        ));
        let got: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![
                "t.properties:5: B.producer.buffer.memory: invalid number \"32MB\": expected a whole number, without a unit",
                "t.properties:6: A.consumer.isolation.level: invalid value \"read-committed\": expected one of read_committed, read_uncommitted",
                "t.properties:7: A.consumer.fetch.max.wait.ms: value contains the inline comment \"# low\", but .properties files have no inline comments: MM2 would read it as part of the value (\"100  # low\" is not a valid value); move the comment to its own line",
                "t.properties:8: A->B.source.consumer.fetch.min.bytes: -1 is out of range: expected 0 to 2147483647",
                "t.properties:9: A->B.producer.override.max.request.size: invalid number \"1e6\": expected a whole number, without a unit",
                "t.properties:10: A.consumer.request.timeout.ms: 3000000000 is out of range: expected 0 to 2147483647",
                "t.properties:11: A->B.consumer.send.buffer.bytes: 0 is out of range: expected -1 (the OS default) or 1 to 2147483647",
                "t.properties:12: B.producer.compression.type: invalid value \"GZIP\": expected one of none, gzip, snappy, lz4, zstd, producer",
            ]
        );
    }

    #[test]
    fn good_values_of_client_settings_kmirror_reads_pass_silently() {
        let cfg = ok(&format!(
            "{BASE}B.producer.buffer.memory = 33554432\n\
             A.consumer.isolation.level = read_uncommitted\n\
             A.consumer.fetch.max.wait.ms = 100\n\
             A.consumer.auto.offset.reset = earliest\n\
             A->B.consumer.socket.receive.buffer.bytes = -1\n\
             A.consumer.ssl.truststore.location = /etc/kmirror/a.p12\n\
             B.producer.max.in.flight.requests.per.connection = 5\n\
             A->B.producer.override.compression.type = zstd\n\
             B.offset.flush.interval.ms = 200\n"
        ));
        assert_eq!(rendered(&cfg.warnings), Vec::<String>::new());
    }

    #[test]
    fn client_settings_kmirror_ignores_warn_with_the_reason() {
        let cfg = ok(&format!(
            "{BASE}B.producer.acks = 1\n\
             B.producer.linger.ms = 5\n\
             B.producer.batch.size = 16384\n\
             B.producer.enable.idempotence = false\n\
             A.consumer.key.deserializer = org.apache.kafka.common.serialization.StringDeserializer\n\
             A.consumer.group.id = mirror\n\
             B.producer.linger.ms = soon\n"
        ));
        let w = &cfg.warnings;
        for line in [5, 8] {
            assert_eq!(warnings_on(w, line).len(), 1, "{:?}", warnings_on(w, line));
            assert!(warnings_on(w, line)[0].contains("always idempotent"));
        }
        assert!(warnings_on(w, 7)[0].contains("forwards the source's record batches"));
        assert!(warnings_on(w, 9)[0].starts_with(
            "t.properties:9: A.consumer.key.deserializer: Java-only setting, ignored by kmirror"
        ));
        assert!(warnings_on(w, 10)[0].contains("joins no consumer group"));
        // A value MM2 would refuse, for a setting kmirror ignores: a warning, never an error.
        assert!(
            warnings_on(w, 11)
                .iter()
                .any(|x| x.contains("MM2 would reject the value: invalid number \"soon\"")),
            "{:?}",
            warnings_on(w, 11)
        );
    }

    #[test]
    fn admin_offset_syncs_and_target_consumer_settings_are_not_read() {
        let cfg = ok(&format!(
            "{BASE}A.admin.request.timeout.ms = 5000\n\
             A->B.target.admin.retries = 3\n\
             A->B.source.producer.acks = all\n\
             A->B.target.consumer.fetch.min.bytes = 1\n\
             A->B.producer.linger.ms = 5\n"
        ));
        let w = &cfg.warnings;
        assert!(warnings_on(w, 5)[0].contains("no separate admin client"));
        assert!(warnings_on(w, 6)[0].contains("no separate admin client"));
        assert!(warnings_on(w, 7)[0].contains("writes offset syncs over the connections"));
        assert!(warnings_on(w, 8)[0].contains("with no consumer of its own"));
        // One warning for the flow-level producer.*, MM2's and kmirror's view together.
        assert_eq!(warnings_on(w, 9).len(), 1);
        assert!(warnings_on(w, 9)[0].contains("reaches only the offset-syncs producer"));
        assert!(warnings_on(w, 9)[0].contains("ignored by kmirror"));
    }

    #[test]
    fn client_bootstrap_servers_warn_naming_the_key_kmirror_reads() {
        let cfg = ok(&format!(
            "{BASE}A.admin.bootstrap.servers = a2:9092\n\
             B.consumer.bootstrap.servers = b2:9092\n\
             A->B.source.cluster.bootstrap.servers = a3:9092\n\
             A->B.target.admin.bootstrap.servers = b3:9092\n\
             A->B.consumer.bootstrap.servers = nonsense\n"
        ));
        let w = &cfg.warnings;
        assert_eq!(
            warnings_on(w, 5),
            vec![
                "t.properties:5: A.admin.bootstrap.servers: ignored by kmirror: kmirror bootstraps every connection to A (consumer, producer and admin requests alike) from A.bootstrap.servers, else the top-level bootstrap.servers; set the address there"
            ]
        );
        assert!(warnings_on(w, 6)[0].contains("from B.bootstrap.servers"));
        assert!(warnings_on(w, 7)[0].contains("from A.bootstrap.servers"));
        assert!(warnings_on(w, 8)[0].contains("from B.bootstrap.servers"));
        assert!(
            warnings_on(w, 9)
                .iter()
                .any(|x| x.contains("invalid bootstrap server \"nonsense\"")),
            "{:?}",
            warnings_on(w, 9)
        );
        // kmirror keeps using the cluster-level address.
        assert_eq!(
            cfg.clusters[0].bootstrap_servers,
            vec!["a:9092".to_string()]
        );
    }

    #[test]
    fn auto_offset_reset_earliest_is_what_kmirror_does_and_others_warn() {
        let cfg = ok(&format!(
            "{BASE}A.consumer.auto.offset.reset = none\nA->B.consumer.auto.offset.reset = by_duration:PT1H\n"
        ));
        let w = &cfg.warnings;
        assert_eq!(
            warnings_on(w, 5),
            vec![
                "t.properties:5: A.consumer.auto.offset.reset: not supported by kmirror: auto.offset.reset=none: kmirror starts a partition it has never replicated at its earliest offset (MM2's default), so it copies the whole retained log of such partitions; only earliest and latest are honoured"
            ]
        );
        assert!(warnings_on(w, 6)[0].contains("auto.offset.reset=by_duration:PT1H"));
        let latest = ok(&format!("{BASE}A.consumer.auto.offset.reset = latest\n"));
        assert!(warnings_on(&latest.warnings, 5).is_empty());
        let e = bad(&format!("{BASE}A.consumer.auto.offset.reset = earlist\n"));
        assert_eq!(
            e.errors[0].to_string(),
            "t.properties:5: A.consumer.auto.offset.reset: invalid value \"earlist\": expected one of earliest, latest, none"
        );
    }

    #[test]
    fn a_setting_of_another_kafka_client_names_the_prefix_that_works() {
        let cfg = ok(&format!(
            "{BASE}B.producer.isolation.level = read_committed\nA.consumer.buffer.memory = 1024\n"
        ));
        assert!(warnings_on(&cfg.warnings, 5)[0].contains(
            "isolation.level is not a Kafka producer setting, so MM2's producer ignores it, and so does kmirror; set it for the consumer ({source}.consumer.isolation.level)"
        ));
        assert!(warnings_on(&cfg.warnings, 6)[0].contains("({target}.producer.buffer.memory)"));
    }

    #[test]
    fn unknown_client_setting_near_one_kmirror_reads_is_error() {
        let e = bad(&format!(
            "{BASE}A.consumer.isolation.levle = read_committed\nA.consumer.no.such.thing = 1\n"
        ));
        assert_eq!(
            e.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "t.properties:5: A.consumer.isolation.levle: unknown key; did you mean \"consumer.isolation.level\"?"
            ]
        );
        assert!(warnings_on(&e.warnings, 6)[0].contains("unknown key, ignored by MM2 and kmirror"));
    }

    #[test]
    fn more_than_5_in_flight_warns_that_it_acts_as_5() {
        let cfg = ok(&format!(
            "{BASE}B.producer.max.in.flight.requests.per.connection = 10\n"
        ));
        assert!(warnings_on(&cfg.warnings, 5)[0].contains("10 acts as 5"));
    }

    #[test]
    fn connection_settings_kmirror_ignores_warn_and_flow_cluster_values_are_typed() {
        let cfg = ok(&format!(
            "{BASE}A.ssl.cipher.suites = TLS_AES_128_GCM_SHA256\n\
             sasl.kerberos.service.name = kafka\n\
             A.sasl.oauthbearer.scope.claim.name = scope\n\
             A.ssl.truststore.location = /etc/kmirror/a.p12\n\
             A.ssl.keymanager.algorithm = SunX509\n"
        ));
        let w = &cfg.warnings;
        assert!(warnings_on(w, 5)[0].contains("rustls"));
        assert!(warnings_on(w, 6)[0].contains("GSSAPI (Kerberos) is not implemented"));
        assert!(warnings_on(w, 7)[0].contains("OAUTHBEARER is not implemented"));
        assert!(warnings_on(w, 8).is_empty());
        assert!(warnings_on(w, 9)[0].contains("Java-only setting"));
        let e = bad(&format!(
            "{BASE}A->B.target.cluster.security.protocol = TLS\n"
        ));
        assert!(
            e.errors[0].to_string().starts_with(
                "t.properties:5: A->B.target.cluster.security.protocol: invalid value \"TLS\""
            ),
            "{}",
            e.errors[0]
        );
    }

    #[test]
    fn cluster_settings_for_a_role_the_cluster_does_not_play_warn() {
        let cfg = ok(&format!(
            "{BASE}B->A.emit.heartbeats.enabled = false\n\
             B.consumer.fetch.min.bytes = 1\n\
             A.producer.client.id = a-producer\n\
             A.offset.flush.interval.ms = 100\n\
             A.consumer.fetch.min.bytes = 1\n\
             B.producer.client.id = b-producer\n\
             B.offset.flush.interval.ms = 100\n"
        ));
        let w = &cfg.warnings;
        assert!(warnings_on(w, 6)[0].contains("B is the source of no enabled flow"));
        assert!(warnings_on(w, 7)[0].contains("A is the target of no flow"));
        assert!(warnings_on(w, 8)[0].contains("A is the target of no enabled flow"));
        for line in [9, 10, 11] {
            assert!(
                warnings_on(w, line).is_empty(),
                "{:?}",
                warnings_on(w, line)
            );
        }
        // With heartbeats on (the default), B->A exists and A.producer.* configures them.
        let cfg = ok(&format!("{BASE}A.producer.client.id = a-producer\n"));
        assert!(warnings_on(&cfg.warnings, 5).is_empty());
    }

    #[test]
    fn offset_flush_interval_is_read_typed_and_only_per_target_cluster() {
        let e = bad(&format!(
            "{BASE}B.offset.flush.interval.ms = 5s\nA.offset.flush.interval.ms = 0\n"
        ));
        assert_eq!(
            e.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "t.properties:5: B.offset.flush.interval.ms: invalid number \"5s\": expected a whole number, without a unit",
                "t.properties:6: A.offset.flush.interval.ms: 0 is out of range: expected at least 1",
            ]
        );
        let cfg = ok(&format!("{BASE}offset.flush.interval.ms = 200\n"));
        assert!(warnings_on(&cfg.warnings, 5)[0].contains(
            "MM2 ignores this key here: MM2 reads this Connect worker setting only per target cluster, as {alias}.offset.flush.interval.ms"
        ));
        // The timeout is still Connect's alone.
        let cfg = ok(&format!("{BASE}B.offset.flush.timeout.ms = 1000\n"));
        assert!(warnings_on(&cfg.warnings, 5)[0].contains("ignored by kmirror"));
    }

    #[test]
    fn every_leaf_name_is_unique() {
        for (i, a) in LEAVES.iter().enumerate() {
            assert!(
                LEAVES.iter().skip(i + 1).all(|b| b.name != a.name),
                "duplicate leaf {}",
                a.name
            );
        }
    }

    #[test]
    fn the_read_leaves_are_the_ones_plan_reads() {
        let read = |side: u8| -> Vec<&str> {
            LEAVES
                .iter()
                .filter(|l| matches!(l.use_, Use::Read(s) if s & side != 0))
                .map(|l| l.name)
                .collect()
        };
        let src = read(SRC);
        for k in [
            "client.id",
            "request.timeout.ms",
            "retry.backoff.ms",
            "retry.backoff.max.ms",
            "send.buffer.bytes",
            "socket.receive.buffer.bytes",
            "isolation.level",
            "fetch.max.wait.ms",
            "fetch.min.bytes",
            "fetch.max.bytes",
            "max.partition.fetch.bytes",
            "security.protocol",
            "ssl.truststore.location",
            "sasl.jaas.config",
        ] {
            assert!(src.contains(&k), "{k}");
        }
        let tgt = read(TGT);
        for k in [
            "compression.type",
            "buffer.memory",
            "max.in.flight.requests.per.connection",
            "max.request.size",
            "request.timeout.ms",
        ] {
            assert!(tgt.contains(&k), "{k}");
        }
        assert!(!tgt.contains(&"isolation.level"));
        assert!(!src.contains(&"buffer.memory"));
    }

    #[test]
    fn roles_follow_mm2_prefixes() {
        assert_eq!(role_of(false, "consumer."), Some(Role::Consumer));
        assert_eq!(role_of(true, "consumer."), Some(Role::Consumer));
        assert_eq!(role_of(true, "source.consumer."), Some(Role::Consumer));
        assert_eq!(role_of(false, "producer."), Some(Role::Producer));
        assert_eq!(role_of(true, "producer.override."), Some(Role::Producer));
        assert_eq!(role_of(true, "producer."), Some(Role::OffsetSyncsProducer));
        assert_eq!(
            role_of(true, "target.producer."),
            Some(Role::OffsetSyncsProducer)
        );
        assert_eq!(
            role_of(true, "target.consumer."),
            Some(Role::TargetConsumer)
        );
        assert_eq!(role_of(false, "admin."), Some(Role::Admin));
        assert_eq!(role_of(true, "source.admin."), Some(Role::Admin));
        assert_eq!(role_of(true, "consumer.override."), None);
        assert_eq!(role_of(false, "source.consumer."), None);
    }

    #[test]
    fn prefix_entries_match_longer_leaves_only() {
        assert_eq!(
            find("sasl.oauthbearer.scope.claim.name").map(|l| l.name),
            Some("sasl.oauthbearer.")
        );
        assert_eq!(
            find("sasl.login.class").map(|l| l.name),
            Some("sasl.login.class")
        );
        assert!(find("sasl.login.").is_none());
        assert!(find("no.such.key").is_none());
    }

    #[test]
    fn numbers_are_checked_against_the_table() {
        assert_eq!(number("buffer.memory", " 33554432 "), Ok(33_554_432));
        assert!(matches!(
            number("buffer.memory", "32MB"),
            Err(ErrorKind::InvalidNumber { expected, .. }) if expected.contains("without a unit")
        ));
        assert!(matches!(
            number("fetch.min.bytes", "-1"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        assert!(matches!(
            number("request.timeout.ms", "3000000000"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        assert_eq!(number("send.buffer.bytes", "-1"), Ok(-1));
        assert!(matches!(
            number("socket.send.buffer.bytes", "0"),
            Err(ErrorKind::OutOfRange { .. })
        ));
    }
}
