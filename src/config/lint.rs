//! Key-level diagnostics for MM2 files: typos (edit distance to a known key), misspelt aliases,
//! inline `#` comments, bad values, and keys that mean nothing to kmirror or only to the JVM.
//!
//! # Scopes
//!
//! Every key is read in one of MM2's three scopes: top level (`topics`), cluster level
//! (`us-west.bootstrap.servers`) or flow level (`us-west->us-east.topics`). The tables below list
//! which keys MM2 (Kafka 3.x/4.0 `MirrorMakerConfig`, `Mirror*Config`, Connect's
//! `ConnectorConfig`/`DistributedConfig`) accepts in which scope; a known key in the wrong scope
//! is a warning saying where it belongs.
//!
//! # Errors versus warnings
//!
//! * **Error**: an unknown key close to a known one (optimal-string-alignment distance ≤ 2 and at
//!   most a third of the length, or a missing `.enabled`/`.seconds` suffix), an alias close to a
//!   listed one, a flow naming an unlisted alias, a value that MM2 or kmirror cannot parse for a
//!   key kmirror reads, an inline comment in such a typed value, and a Java class that changes
//!   *what* is replicated (`replication.policy.class` other than the Default/Identity policies,
//!   a custom `topic.filter.class`, `group.filter.class` or `config.property.filter.class`):
//!   kmirror cannot run Java, and falling back to the default would name or select topics
//!   differently from MM2.
//! * **Warning**: everything else that is surprising but cannot make kmirror replicate the wrong
//!   thing: unknown keys far from any known one (MM2 ignores them too), Connect-only and JVM-only
//!   settings (`*.storage.*`, converters, `offset.flush.timeout.ms`, `tasks.max`, REST,
//!   `metric.reporters`, transforms, Java keystores, config provider classes kmirror does not
//!   implement, ...) including bad values of those keys, keys MM2 ignores where they are
//!   written, and inline comments in free-form values.
//!
//! Kafka client settings (`{alias}.consumer.*`, `{alias}.producer.*`, `{alias}.admin.*`, their
//! flow-level forms, and the connection keys `security.protocol`, `ssl.*`, `sasl.*`) follow the
//! same rule, with one table of the leaves kmirror reads in [`super::clients`]: a bad value of
//! one of those is an error (`buffer.memory = 32MB`), every other client setting a warning saying
//! why kmirror ignores it (`acks`, `linger.ms`, `{alias}.admin.*`, `auto.offset.reset = latest`).
//!
//! `{target}.offset.flush.interval.ms` is read: it is how often kmirror saves the progress of
//! the flows into that cluster (`engine::plan`), as Connect commits MM2's source offsets that
//! often; a value that is not a whole number of at least 1 ms is an error.
//!
//! `config.providers*` keys are checked by [`super::providers`], which also expands the
//! `${provider:path:key}` references before this module sees the values. Diagnostics never
//! quote the value of a sensitive key or one that came from a provider
//! ([`super::providers::is_sensitive`]).
//!
//! # The seed document's own mistakes (decisions, each pinned by a test)
//!
//! The geo-replication chapter (`/work/shared/spec/seed-geo-replication.md`) contains several
//! mistakes that MM2 silently accepts. kmirror reports each one:
//!
//! * `primary->secondary.enable = true` (and `us-west->us-east.enable`): **error**
//!   `unknown key; did you mean "enabled"?`. MM2 ignores the key and the flow stays disabled.
//!   Test: `seed_enable_typo_is_error_suggesting_enabled`.
//! * `us-west->us.east.topics` while `clusters` lists `us-east`: **error**
//!   `unknown cluster alias "us.east"; did you mean "us-east"?`. MM2 would silently never use
//!   the setting. Cluster-level keys (`us.east.bootstrap.servers`) get the same error when the
//!   alias is close to a listed one; far from every listed alias it is only a warning (a cluster
//!   removed from `clusters` on purpose). Test: `seed_dotted_alias_is_error_naming_near_alias`.
//! * `Us-east.bootstrap.servers` while `clusters` lists `us-east`: **error** `cluster aliases are
//!   case-sensitive: "Us-east" is not "us-east"`, and, since `us-east` then has no bootstrap
//!   servers while in an enabled flow, a second error pointing at that line.
//!   Test: `seed_alias_case_mismatch_is_error`.
//! * Inline comments (`clusters = us-west, us-east   # defines cluster aliases`): Java keeps
//!   `   # defines cluster aliases` in the value. For typed values (booleans, numbers, lists,
//!   regexes, aliases, enums, classes) that is an **error** explaining what MM2 would make of
//!   it (the last alias becomes `us-east   # defines cluster aliases`; `topics = .*   # all`
//!   becomes a regex that matches no topic). For free-form values (client settings, passwords)
//!   it is a **warning** and the value is kept exactly as Java keeps it. Never silently
//!   stripped. Test: `seed_inline_comment_on_typed_value_is_error`,
//!   `inline_comment_on_free_form_value_is_warning_and_kept`.
//! * `us-west->us-east.emit.heartbeats = false`: **error** `unknown key; did you mean
//!   "emit.heartbeats.enabled"?` (missing-suffix rule). Test: `seed_emit_heartbeats_without_enabled_suffix_is_error`.
//! * Fragments without `clusters` (most examples): **error** `missing required key`, with the
//!   aliases the file uses suggested (`add clusters = primary, secondary`); the rest of the file
//!   is still linted against those aliases. Test: `seed_fragment_without_clusters_suggests_aliases`.
//! * `west-1.bootstrap.servers = ...`: **error** `invalid bootstrap server "..."`; a placeholder
//!   fails at client creation in MM2 too. Test: `seed_example_14_placeholder_bootstrap_servers_are_errors`.
//! * The chapter's defaults that disagree with the source (refresh intervals 6000, heartbeats
//!   every 5 s, `sync.group.offsets.enabled` true): kmirror uses the source's defaults; see the
//!   constants in [`super::mm2`].

use super::clients;
use super::mm2::{
    self, Collector, DEFAULT_FORWARDING_ADMIN_CLASS, DEFAULT_TOPIC_FILTER_CLASS, ErrorKind, RawMap,
    WarningKind,
};
use super::properties::Entry;

/// How a value is parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Free-form text (client settings, passwords, topic names).
    Str,
    /// A comma list with no further checks.
    List,
    /// `ConfigDef` BOOLEAN.
    Bool,
    /// `ConfigDef` LONG.
    Long,
    /// `ConfigDef` INT.
    Int,
    /// INT, at least 1 (`tasks.max`).
    AtLeastOne,
    /// A replication factor: `-1` or 1..=32767.
    ReplicationFactor,
    /// A LONG number of seconds, at least 1.
    Seconds,
    /// A LONG number of milliseconds, at least 0.
    Millis,
    /// A Kafka client INT with `atLeast(min)` (`-1`, `0` or `1`).
    IntMin(i32),
    /// A Kafka client or Connect LONG with `atLeast(min)` (`0` or `1`).
    LongMin(i64),
    /// A list of Java regexes (checked with Rust's engine).
    Regexes,
    /// `bootstrap.servers`.
    Hosts,
    /// One of these strings, case-sensitive.
    Choice(&'static [&'static str]),
    /// One of these strings, case-insensitive.
    ChoiceNoCase(&'static [&'static str]),
    /// `replication.policy.class`.
    PolicyClass,
    /// A filter class: only the default is supported (`default`, reason otherwise).
    FilterClass(&'static str, &'static str),
    /// `replication.policy.separator`.
    Separator,
    /// Some other Java class name.
    Class,
}

impl Ty {
    /// Whether an inline comment in such a value changes its meaning (an error) rather than
    /// just its text (a warning).
    fn is_typed(self) -> bool {
        !matches!(self, Ty::Str)
    }
}

/// Scope bits.
const T: u8 = 1; // top level
const F: u8 = 2; // flow level
const C: u8 = 4; // cluster level
/// In MM2's connector ConfigDefs: passed from the top level to every connector.
const K: u8 = 8;

/// The three scopes of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Cluster,
    Flow,
}

impl Scope {
    fn bit(self) -> u8 {
        match self {
            Scope::Top => T,
            Scope::Cluster => C,
            Scope::Flow => F,
        }
    }
}

/// Why a valid key still earns a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    None,
    /// Means nothing to kmirror.
    Unused(&'static str),
    /// Java-only.
    Jvm(&'static str),
    /// Java-only unless the value is this default (a class name).
    JvmUnless(&'static str, &'static str),
    /// Java-only when the list is not empty.
    JvmIfSet(&'static str),
    /// A feature kmirror lacks.
    Unsupported(&'static str),
}

#[derive(Debug)]
struct Spec {
    name: &'static str,
    scopes: u8,
    ty: Ty,
    note: Note,
}

#[derive(Debug)]
struct PrefixSpec {
    prefix: &'static str,
    scopes: u8,
    /// Strong prefixes are accepted before typo detection, weak ones only after.
    strong: bool,
    note: Note,
}

const REST: &str = "Connect's REST server; kmirror runs no Connect herders, so nothing needs forwarding between nodes";
const CONNECT_STATE: &str =
    "Connect's internal config/offset/status topics; kmirror keeps no Connect state";
const CONVERTERS: &str =
    "kmirror forwards record bytes unchanged (MM2 installs ByteArrayConverter for the same effect)";
const TASKS_MAX: &str = "kmirror has no Connect tasks and mirrors every partition independently; the value is kept as FlowConfig::tasks_max but does not mean what it means in MM2";
const CONNECT: &str = "Connect framework setting with no kmirror equivalent";
const ERRORS: &str =
    "Connect error handling for converters and transformations; kmirror has neither";
const SET_BY_MM2: &str = "MM2 fills this in per connector from the flow";
const WORKER: &str = "Connect worker setting; kmirror has no Connect worker";
const WORKER_CLIENT: &str = "in MM2 this cluster-level key reaches only the Connect worker, not the replication clients; for kmirror's clients use {alias}.consumer.<key>, {alias}.producer.<key> or {alias}.admin.<key>";
const OFFSET_FLUSH: &str = "Connect's offset-commit timeout; kmirror saves progress every {target}.offset.flush.interval.ms with no separate timeout";
const EOS: &str = "exactly-once source support is not implemented by kmirror";
const POLL: &str = "MM2's consumer poll timeout; kmirror's fetch loop has none";
const SOURCE_TAG: &str =
    "kmirror always tags metrics with the source alias (the Kafka 4.0 behaviour)";
const FORWARDING_ADMIN: &str = "a custom ForwardingAdmin is Java code; kmirror manages topics and ACLs with its own admin client";
const METRIC_REPORTERS: &str =
    "metrics reporters are Java classes; kmirror exports its metrics over HTTP";
const TRANSFORMS: &str = "Connect transformations are Java code; kmirror forwards records unchanged, so the target differs from what MM2 with these transformations would write";
const JAVA_CLASS: &str = "names a Java class";
const TOPIC_FILTER: &str = "a custom TopicFilter is Java code; kmirror only implements DefaultTopicFilter (topics / topics.exclude), and guessing would replicate different topics";
const GROUP_FILTER: &str = "a custom GroupFilter is Java code; kmirror only implements DefaultGroupFilter (groups / groups.exclude), and guessing would checkpoint different groups";
const CONFIG_FILTER: &str = "a custom ConfigPropertyFilter is Java code; kmirror only implements DefaultConfigPropertyFilter (config.properties.exclude), and guessing would sync different topic configs";

const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Deprecated MM2 key names (Kafka 2.4–3.9 accept them, 4.0 does not): `(old, new)`.
pub(crate) const DEPRECATED_ALIASES: &[(&str, &str)] = &[
    ("topics.blacklist", "topics.exclude"),
    ("groups.blacklist", "groups.exclude"),
    ("config.properties.blacklist", "config.properties.exclude"),
];

macro_rules! spec {
    ($name:expr, $scopes:expr, $ty:expr) => {
        Spec {
            name: $name,
            scopes: $scopes,
            ty: $ty,
            note: Note::None,
        }
    };
    ($name:expr, $scopes:expr, $ty:expr, $note:expr) => {
        Spec {
            name: $name,
            scopes: $scopes,
            ty: $ty,
            note: $note,
        }
    };
}

/// Every key MM2 knows by exact name.
static SPECS: &[Spec] = &[
    // MirrorMakerConfig (driver).
    spec!("clusters", T, Ty::List),
    // kmirror's own: where `kmirror run` serves /metrics, /status and /healthz.
    spec!("metrics.addr", T, Ty::Str),
    spec!("scale.out.enabled", T, Ty::Bool),
    spec!(
        "dedicated.mode.enable.internal.rest",
        T,
        Ty::Bool,
        Note::Unused(REST)
    ),
    // Checked and applied by `providers.rs`.
    spec!("config.providers", T, Ty::List),
    spec!("listeners", T | C, Ty::List, Note::Unused(REST)),
    spec!(
        "rest.advertised.host.name",
        T | C,
        Ty::Str,
        Note::Unused(REST)
    ),
    spec!("rest.advertised.port", T | C, Ty::Int, Note::Unused(REST)),
    spec!(
        "rest.advertised.listener",
        T | C,
        Ty::Str,
        Note::Unused(REST)
    ),
    spec!("admin.listeners", T, Ty::List, Note::Unused(REST)),
    // Connection keys (MirrorClientConfig.CLIENT_CONFIG_DEF); top level = fallback for every cluster.
    spec!("bootstrap.servers", T | C, Ty::Hosts),
    spec!(
        "security.protocol",
        T | C | K,
        Ty::ChoiceNoCase(SECURITY_PROTOCOLS)
    ),
    spec!("ssl.protocol", T | C | K, Ty::Str),
    spec!("ssl.provider", T | C | K, Ty::Str),
    spec!("ssl.cipher.suites", T | C | K, Ty::Str),
    spec!("ssl.enabled.protocols", T | C | K, Ty::Str),
    spec!("ssl.keystore.type", T | C | K, Ty::Str),
    spec!("ssl.keystore.location", T | C | K, Ty::Str),
    spec!("ssl.keystore.password", T | C | K, Ty::Str),
    spec!("ssl.keystore.key", T | C | K, Ty::Str),
    spec!("ssl.keystore.certificate.chain", T | C | K, Ty::Str),
    spec!("ssl.key.password", T | C | K, Ty::Str),
    spec!("ssl.truststore.type", T | C | K, Ty::Str),
    spec!("ssl.truststore.location", T | C | K, Ty::Str),
    spec!("ssl.truststore.password", T | C | K, Ty::Str),
    spec!("ssl.truststore.certificates", T | C | K, Ty::Str),
    spec!("ssl.keymanager.algorithm", T | C | K, Ty::Str),
    spec!("ssl.trustmanager.algorithm", T | C | K, Ty::Str),
    spec!("ssl.endpoint.identification.algorithm", T | C | K, Ty::Str),
    spec!("ssl.secure.random.implementation", T | C | K, Ty::Str),
    spec!(
        "ssl.engine.factory.class",
        T | C | K,
        Ty::Class,
        Note::Jvm(JAVA_CLASS)
    ),
    spec!("sasl.mechanism", T | C | K, Ty::Str),
    spec!("sasl.jaas.config", T | C | K, Ty::Str),
    spec!("sasl.kerberos.service.name", T | C | K, Ty::Str),
    spec!("sasl.kerberos.kinit.cmd", T | C | K, Ty::Str),
    spec!(
        "sasl.kerberos.ticket.renew.window.factor",
        T | C | K,
        Ty::Str
    ),
    spec!("sasl.kerberos.ticket.renew.jitter", T | C | K, Ty::Str),
    spec!("sasl.kerberos.min.time.before.relogin", T | C | K, Ty::Long),
    spec!("sasl.login.refresh.window.factor", T | C | K, Ty::Str),
    spec!("sasl.login.refresh.window.jitter", T | C | K, Ty::Str),
    spec!("sasl.login.refresh.min.period.seconds", T | C | K, Ty::Int),
    spec!("sasl.login.refresh.buffer.seconds", T | C | K, Ty::Int),
    spec!("sasl.login.connect.timeout.ms", T | C | K, Ty::Int),
    spec!("sasl.login.read.timeout.ms", T | C | K, Ty::Int),
    spec!("sasl.login.retry.backoff.ms", T | C | K, Ty::Long),
    spec!("sasl.login.retry.backoff.max.ms", T | C | K, Ty::Long),
    spec!(
        "sasl.login.callback.handler.class",
        T | C | K,
        Ty::Class,
        Note::Jvm(JAVA_CLASS)
    ),
    spec!(
        "sasl.login.class",
        T | C | K,
        Ty::Class,
        Note::Jvm(JAVA_CLASS)
    ),
    spec!(
        "sasl.client.callback.handler.class",
        T | C | K,
        Ty::Class,
        Note::Jvm(JAVA_CLASS)
    ),
    spec!("sasl.oauthbearer.token.endpoint.url", T | C | K, Ty::Str),
    spec!("sasl.oauthbearer.jwks.endpoint.url", T | C | K, Ty::Str),
    spec!(
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        T | C | K,
        Ty::Long
    ),
    spec!(
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
        T | C | K,
        Ty::Long
    ),
    spec!(
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
        T | C | K,
        Ty::Long
    ),
    spec!("sasl.oauthbearer.scope.claim.name", T | C | K, Ty::Str),
    spec!("sasl.oauthbearer.sub.claim.name", T | C | K, Ty::Str),
    spec!("sasl.oauthbearer.clock.skew.seconds", T | C | K, Ty::Int),
    spec!("sasl.oauthbearer.expected.audience", T | C | K, Ty::Str),
    spec!("sasl.oauthbearer.expected.issuer", T | C | K, Ty::Str),
    spec!("sasl.oauthbearer.header.urlencode", T | C | K, Ty::Bool),
    // Connect ConnectorConfig (every connector).
    spec!("name", T | F | K, Ty::Str, Note::Unused(SET_BY_MM2)),
    spec!(
        "connector.class",
        T | F | K,
        Ty::Class,
        Note::Unused(SET_BY_MM2)
    ),
    spec!(
        "tasks.max",
        T | F | K,
        Ty::AtLeastOne,
        Note::Unused(TASKS_MAX)
    ),
    spec!(
        "tasks.max.enforce",
        T | F | K,
        Ty::Bool,
        Note::Unused(CONNECT)
    ),
    spec!(
        "key.converter",
        T | F | C | K,
        Ty::Class,
        Note::Unused(CONVERTERS)
    ),
    spec!(
        "value.converter",
        T | F | C | K,
        Ty::Class,
        Note::Unused(CONVERTERS)
    ),
    spec!(
        "header.converter",
        T | F | C | K,
        Ty::Class,
        Note::Unused(CONVERTERS)
    ),
    spec!(
        "transforms",
        T | F | K,
        Ty::List,
        Note::JvmIfSet(TRANSFORMS)
    ),
    spec!(
        "predicates",
        T | F | K,
        Ty::List,
        Note::JvmIfSet(TRANSFORMS)
    ),
    spec!(
        "config.action.reload",
        T | F | K,
        Ty::Choice(&["none", "restart"]),
        Note::Unused(CONNECT)
    ),
    spec!(
        "errors.retry.timeout",
        T | F | K,
        Ty::Long,
        Note::Unused(ERRORS)
    ),
    spec!(
        "errors.retry.delay.max.ms",
        T | F | K,
        Ty::Long,
        Note::Unused(ERRORS)
    ),
    spec!(
        "errors.tolerance",
        T | F | K,
        Ty::Choice(&["none", "all"]),
        Note::Unused(ERRORS)
    ),
    spec!(
        "errors.log.enable",
        T | F | K,
        Ty::Bool,
        Note::Unused(ERRORS)
    ),
    spec!(
        "errors.log.include.messages",
        T | F | K,
        Ty::Bool,
        Note::Unused(ERRORS)
    ),
    // MirrorConnectorConfig (every MM2 connector).
    spec!("enabled", T | F | K, Ty::Bool),
    spec!(
        "source.cluster.alias",
        T | F | K,
        Ty::Str,
        Note::Unused(SET_BY_MM2)
    ),
    spec!(
        "target.cluster.alias",
        T | F | K,
        Ty::Str,
        Note::Unused(SET_BY_MM2)
    ),
    spec!("admin.timeout.ms", T | F | K, Ty::Millis),
    spec!("replication.policy.class", T | F | K, Ty::PolicyClass),
    spec!("replication.policy.separator", T | F | K, Ty::Separator),
    spec!(
        "replication.policy.internal.topic.separator.enabled",
        T | F | K,
        Ty::Bool
    ),
    spec!(
        "forwarding.admin.class",
        T | F | K,
        Ty::Class,
        Note::JvmUnless(DEFAULT_FORWARDING_ADMIN_CLASS, FORWARDING_ADMIN)
    ),
    spec!(
        "metric.reporters",
        T | F | C | K,
        Ty::List,
        Note::JvmUnless(
            "org.apache.kafka.common.metrics.JmxReporter",
            METRIC_REPORTERS
        )
    ),
    spec!(
        "topic.filter.class",
        T | F | K,
        Ty::FilterClass(DEFAULT_TOPIC_FILTER_CLASS, TOPIC_FILTER)
    ),
    spec!(
        "offset-syncs.topic.location",
        T | F | K,
        Ty::Choice(&["source", "target"])
    ),
    spec!("emit.offset-syncs.enabled", T | F | K, Ty::Bool),
    spec!(
        "consumer.poll.timeout.ms",
        T | F | K,
        Ty::Long,
        Note::Unused(POLL)
    ),
    // MirrorSourceConfig.
    spec!("topics", T | F | K, Ty::Regexes),
    spec!("topics.exclude", T | F | K, Ty::Regexes),
    spec!("topics.blacklist", T | F | K, Ty::Regexes),
    spec!("config.properties.exclude", T | F | K, Ty::Regexes),
    spec!("config.properties.blacklist", T | F | K, Ty::Regexes),
    spec!(
        "config.property.filter.class",
        T | F | K,
        Ty::FilterClass(mm2::DEFAULT_CONFIG_PROPERTY_FILTER_CLASS, CONFIG_FILTER)
    ),
    spec!("refresh.topics.enabled", T | F | K, Ty::Bool),
    spec!("refresh.topics.interval.seconds", T | F | K, Ty::Seconds),
    spec!("sync.topic.configs.enabled", T | F | K, Ty::Bool),
    spec!(
        "sync.topic.configs.interval.seconds",
        T | F | K,
        Ty::Seconds
    ),
    spec!(
        "use.incremental.alter.configs",
        T | F | K,
        Ty::Choice(&["requested", "required", "never"])
    ),
    spec!("sync.topic.acls.enabled", T | F | K, Ty::Bool),
    spec!("sync.topic.acls.interval.seconds", T | F | K, Ty::Seconds),
    spec!("replication.factor", T | F | K, Ty::ReplicationFactor),
    spec!(
        "offset-syncs.topic.replication.factor",
        T | F | K,
        Ty::ReplicationFactor
    ),
    spec!("offset.lag.max", T | F | K, Ty::Long),
    spec!(
        "add.source.alias.to.metrics",
        T | F | K,
        Ty::Bool,
        Note::Unused(SOURCE_TAG)
    ),
    spec!("heartbeats.replication.enabled", T | F | K, Ty::Bool),
    // MirrorCheckpointConfig.
    spec!("groups", T | F | K, Ty::Regexes),
    spec!("groups.exclude", T | F | K, Ty::Regexes),
    spec!("groups.blacklist", T | F | K, Ty::Regexes),
    spec!(
        "group.filter.class",
        T | F | K,
        Ty::FilterClass(mm2::DEFAULT_GROUP_FILTER_CLASS, GROUP_FILTER)
    ),
    spec!("refresh.groups.enabled", T | F | K, Ty::Bool),
    spec!("refresh.groups.interval.seconds", T | F | K, Ty::Seconds),
    spec!("emit.checkpoints.enabled", T | F | K, Ty::Bool),
    spec!("emit.checkpoints.interval.seconds", T | F | K, Ty::Seconds),
    spec!("sync.group.offsets.enabled", T | F | K, Ty::Bool),
    spec!(
        "sync.group.offsets.interval.seconds",
        T | F | K,
        Ty::Seconds
    ),
    spec!(
        "checkpoints.topic.replication.factor",
        T | F | K,
        Ty::ReplicationFactor
    ),
    // MirrorHeartbeatConfig.
    spec!("emit.heartbeats.enabled", T | F | K, Ty::Bool),
    spec!("emit.heartbeats.interval.seconds", T | F | K, Ty::Seconds),
    spec!(
        "heartbeats.topic.replication.factor",
        T | F | K,
        Ty::ReplicationFactor
    ),
    // Read by MM2 only per flow (not in the connector ConfigDefs, so dropped at top level).
    spec!("use.defaults.from", F, Ty::Choice(&["source", "target"])),
    spec!(
        "exactly.once.support",
        F,
        Ty::Choice(&["requested", "required"]),
        Note::Unsupported(EOS)
    ),
    spec!(
        "transaction.boundary",
        F,
        Ty::Choice(&["poll", "interval", "connector"]),
        Note::Unsupported(EOS)
    ),
    spec!(
        "transaction.boundary.interval.ms",
        F,
        Ty::Long,
        Note::Unsupported(EOS)
    ),
    spec!(
        "offsets.storage.topic",
        F,
        Ty::Str,
        Note::Unused(CONNECT_STATE)
    ),
    // Connect worker settings (cluster level = the herders targeting that cluster).
    spec!("group.id", C, Ty::Str, Note::Unused(WORKER)),
    spec!("client.id", C, Ty::Str, Note::Unused(WORKER_CLIENT)),
    spec!(
        "offset.storage.topic",
        T | C,
        Ty::Str,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "offset.storage.partitions",
        T | C,
        Ty::Int,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "offset.storage.replication.factor",
        T | C,
        Ty::ReplicationFactor,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "config.storage.topic",
        T | C,
        Ty::Str,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "config.storage.replication.factor",
        T | C,
        Ty::ReplicationFactor,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "status.storage.topic",
        T | C,
        Ty::Str,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "status.storage.partitions",
        T | C,
        Ty::Int,
        Note::Unused(CONNECT_STATE)
    ),
    spec!(
        "status.storage.replication.factor",
        T | C,
        Ty::ReplicationFactor,
        Note::Unused(CONNECT_STATE)
    ),
    // kmirror's progress-save cadence for the flows into this cluster (`engine::plan`), as
    // Connect's offset commits are for MM2; read only per target cluster, as MM2 reads it.
    spec!("offset.flush.interval.ms", C, Ty::LongMin(1)),
    spec!(
        "offset.flush.timeout.ms",
        C,
        Ty::Long,
        Note::Unused(OFFSET_FLUSH)
    ),
    spec!(
        "exactly.once.source.support",
        C,
        Ty::Choice(&["disabled", "preparing", "enabled"]),
        Note::Unsupported(EOS)
    ),
    spec!(
        "connect.protocol",
        C,
        Ty::Choice(&["eager", "compatible", "sessioned"]),
        Note::Unused(WORKER)
    ),
    spec!(
        "scheduled.rebalance.max.delay.ms",
        C,
        Ty::Int,
        Note::Unused(WORKER)
    ),
    // Scale-out group timing (`{target}.session.timeout.ms` or top level), as for a Connect worker.
    spec!("session.timeout.ms", T | C, Ty::Int),
    // Scale-out group timing (`{target}.heartbeat.interval.ms` or top level), as for a Connect worker.
    spec!("heartbeat.interval.ms", T | C, Ty::Int),
    // Scale-out group timing (`{target}.rebalance.timeout.ms` or top level), as for a Connect worker.
    spec!("rebalance.timeout.ms", T | C, Ty::Int),
    spec!(
        "worker.sync.timeout.ms",
        T | C,
        Ty::Int,
        Note::Unused(WORKER)
    ),
    spec!(
        "worker.unsync.backoff.ms",
        T | C,
        Ty::Int,
        Note::Unused(WORKER)
    ),
    spec!(
        "task.shutdown.graceful.timeout.ms",
        T | C,
        Ty::Long,
        Note::Unused(WORKER)
    ),
    spec!("plugin.path", C, Ty::List, Note::Unused(WORKER)),
    spec!(
        "connector.client.config.override.policy",
        C,
        Ty::Str,
        Note::Unused(WORKER)
    ),
    spec!(
        "request.timeout.ms",
        C,
        Ty::Int,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!("retry.backoff.ms", C, Ty::Long, Note::Unused(WORKER_CLIENT)),
    spec!(
        "retry.backoff.max.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "reconnect.backoff.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "reconnect.backoff.max.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "connections.max.idle.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "receive.buffer.bytes",
        C,
        Ty::Int,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!("send.buffer.bytes", C, Ty::Int, Note::Unused(WORKER_CLIENT)),
    spec!("client.dns.lookup", C, Ty::Str, Note::Unused(WORKER_CLIENT)),
    spec!(
        "metadata.max.age.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "socket.connection.setup.timeout.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    spec!(
        "socket.connection.setup.timeout.max.ms",
        C,
        Ty::Long,
        Note::Unused(WORKER_CLIENT)
    ),
    // kmirror's metric window (min/max/avg and rates over samples × window),
    // read at top level only (for MM2 a cluster-level one configures a worker).
    spec!("metrics.num.samples", T, Ty::Int),
    spec!("metrics.sample.window.ms", T, Ty::Long),
    spec!(
        "metrics.recording.level",
        C,
        Ty::Str,
        Note::Unused(WORKER_CLIENT)
    ),
];

/// Keys known by prefix.
static PREFIXES: &[PrefixSpec] = &[
    PrefixSpec {
        prefix: "producer.override.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "consumer.override.",
        scopes: F,
        strong: true,
        note: Note::Unused(
            "Connect sink-connector client overrides; MM2's source connectors never use them",
        ),
    },
    PrefixSpec {
        prefix: "admin.override.",
        scopes: F,
        strong: true,
        note: Note::Unused("Connect dead-letter-queue admin overrides; MM2 never uses them"),
    },
    PrefixSpec {
        prefix: "source.consumer.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "source.producer.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "source.admin.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "target.consumer.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "target.producer.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "target.admin.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "source.cluster.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "target.cluster.",
        scopes: F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "consumer.",
        scopes: C | F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "producer.",
        scopes: C | F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "admin.",
        scopes: C | F,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "transforms.",
        scopes: F,
        strong: true,
        note: Note::Jvm(TRANSFORMS),
    },
    PrefixSpec {
        prefix: "predicates.",
        scopes: F,
        strong: true,
        note: Note::Jvm(TRANSFORMS),
    },
    PrefixSpec {
        prefix: "config.providers.",
        scopes: T,
        strong: true,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "ssl.",
        scopes: T | C,
        strong: false,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "sasl.",
        scopes: T | C,
        strong: false,
        note: Note::None,
    },
    PrefixSpec {
        prefix: "listeners.https.",
        scopes: T | C,
        strong: false,
        note: Note::Unused(REST),
    },
    PrefixSpec {
        prefix: "admin.listeners.https.",
        scopes: T,
        strong: false,
        note: Note::Unused(REST),
    },
    PrefixSpec {
        prefix: "offset.storage",
        scopes: T | C,
        strong: false,
        note: Note::Unused(CONNECT_STATE),
    },
    PrefixSpec {
        prefix: "config.storage",
        scopes: T | C,
        strong: false,
        note: Note::Unused(CONNECT_STATE),
    },
    PrefixSpec {
        prefix: "status.storage",
        scopes: T | C,
        strong: false,
        note: Note::Unused(CONNECT_STATE),
    },
    PrefixSpec {
        prefix: "key.converter",
        scopes: T | C | F,
        strong: false,
        note: Note::Unused(CONVERTERS),
    },
    PrefixSpec {
        prefix: "value.converter",
        scopes: T | C | F,
        strong: false,
        note: Note::Unused(CONVERTERS),
    },
    PrefixSpec {
        prefix: "header.converter",
        scopes: T | C | F,
        strong: false,
        note: Note::Unused(CONVERTERS),
    },
    PrefixSpec {
        prefix: "task",
        scopes: T,
        strong: false,
        note: Note::Unused(WORKER),
    },
    PrefixSpec {
        prefix: "worker",
        scopes: T | C,
        strong: false,
        note: Note::Unused(WORKER),
    },
    PrefixSpec {
        prefix: "errors.",
        scopes: F,
        strong: false,
        note: Note::Unused(ERRORS),
    },
    PrefixSpec {
        prefix: "topic.creation.",
        scopes: F,
        strong: false,
        note: Note::Unused(
            "Connect topic creation; MM2 creates remote topics itself, and so does kmirror",
        ),
    },
];

/// Whether MM2 passes this top-level key to its connectors (`MirrorMakerConfig.allConfigNames`).
pub(crate) fn is_connector_key(key: &str) -> bool {
    SPECS.iter().any(|s| s.name == key && s.scopes & K != 0)
        || key.starts_with("ssl.")
        || key.starts_with("sasl.")
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost 1.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// Whether `a` is a plausible misspelling of `b`: different, and at most 2 edits, which is at
/// most a third of the longer word (so `C` is not a misspelling of `A`).
pub fn is_near(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    // Cheap bound first: the distance is at least the difference in length.
    if a.chars().count().abs_diff(b.chars().count()) > 2 {
        return false;
    }
    let d = edit_distance(a, b);
    let len = a.chars().count().max(b.chars().count());
    d <= 2 && d * 3 <= len
}

/// The candidate nearest to `word` that [`is_near`] accepts, or a case-insensitive match.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let d = if c != word && c.eq_ignore_ascii_case(word) {
            0
        } else if is_near(word, c) {
            edit_distance(word, c)
        } else {
            continue;
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// How a key is known in a scope.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Exact(&'static Spec),
    Misplaced(&'static Spec),
    Prefix(&'static PrefixSpec),
    MisplacedPrefix(&'static PrefixSpec),
    Typo(&'static str, Option<&'static PrefixSpec>),
    Unknown,
}

impl Lookup {
    fn recognized(self) -> bool {
        matches!(self, Lookup::Exact(_) | Lookup::Prefix(_))
    }
}

fn find_prefix(sub: &str, strong: bool) -> Option<&'static PrefixSpec> {
    PREFIXES
        .iter()
        .filter(|p| p.strong == strong && sub.starts_with(p.prefix) && sub.len() > p.prefix.len())
        .max_by_key(|p| p.prefix.len())
}

fn lookup(scope: Scope, sub: &str) -> Lookup {
    if let Some(spec) = SPECS.iter().find(|s| s.name == sub) {
        return if spec.scopes & scope.bit() != 0 {
            Lookup::Exact(spec)
        } else {
            Lookup::Misplaced(spec)
        };
    }
    if let Some(p) = find_prefix(sub, true) {
        return if p.scopes & scope.bit() != 0 {
            Lookup::Prefix(p)
        } else {
            Lookup::MisplacedPrefix(p)
        };
    }
    if let Some((s, p)) = suggest(scope, sub) {
        return Lookup::Typo(s, p);
    }
    if let Some(p) = find_prefix(sub, false) {
        return if p.scopes & scope.bit() != 0 {
            Lookup::Prefix(p)
        } else {
            Lookup::MisplacedPrefix(p)
        };
    }
    Lookup::Unknown
}

/// The known key an unknown `sub` most likely meant, in `scope`. For a misspelt prefix
/// (`consumr.x`) returns the prefix spec too, and the caller appends the rest.
fn suggest(scope: Scope, sub: &str) -> Option<(&'static str, Option<&'static PrefixSpec>)> {
    let valid = || SPECS.iter().filter(move |s| s.scopes & scope.bit() != 0);
    let exact = |name: &str| valid().find(|s| s.name == name).map(|s| s.name);
    if let Some(s) = exact(&format!("{sub}.enabled")) {
        return Some((s, None));
    }
    for (from, to) in [
        (".interval", ".interval.seconds"),
        (".interval.ms", ".interval.seconds"),
    ] {
        if let Some(stem) = sub.strip_suffix(from)
            && let Some(s) = exact(&format!("{stem}{to}"))
        {
            return Some((s, None));
        }
    }
    if let Some(s) = closest(sub, valid().map(|s| s.name)) {
        return Some((s, None));
    }
    // A misspelt strong prefix: compare the same number of leading segments.
    for p in PREFIXES
        .iter()
        .filter(|p| p.strong && p.scopes & scope.bit() != 0)
    {
        let head = p.prefix.trim_end_matches('.');
        let n = head.split('.').count();
        let segments: Vec<&str> = sub.splitn(n + 1, '.').collect();
        if segments.len() == n + 1 && is_near(&segments[..n].join("."), head) {
            return Some((p.prefix, Some(p)));
        }
    }
    None
}

/// The suggestion text for a typo: the known key, or the prefix plus the rest of the key.
fn suggestion_text(sub: &str, s: &str, p: Option<&PrefixSpec>) -> String {
    match p {
        Some(p) => {
            let n = p.prefix.trim_end_matches('.').split('.').count();
            let rest = sub.splitn(n + 1, '.').nth(n).unwrap_or_default();
            format!("{s}{rest}")
        }
        None => s.to_string(),
    }
}

/// Where an inline `#` comment starts in a value: at the start, or after whitespace.
pub(crate) fn inline_comment_at(value: &str) -> Option<usize> {
    if value.starts_with('#') {
        return Some(0);
    }
    value
        .char_indices()
        .zip(value.char_indices().skip(1))
        .find(|((_, a), (_, b))| a.is_whitespace() && *b == '#')
        .map(|(_, (i, _))| i)
}

/// The value without an inline comment, as the user meant it. Used only to keep checking after
/// an inline-comment error has been reported; the result is an error anyway.
pub(crate) fn recover_value(value: &str) -> &str {
    match inline_comment_at(value) {
        Some(i) => value[..i].trim_end(),
        None => value,
    }
}

/// What MM2 would make of a typed value that carries an inline comment.
fn comment_consequence(ty: Ty, value: &str, key: &str) -> String {
    let last = mm2::parse_list(value).pop().unwrap_or_default();
    match ty {
        Ty::List if key == "clusters" => format!("the last alias would be \"{last}\""),
        Ty::List => format!("the last item would be \"{last}\""),
        Ty::Hosts => format!("the last bootstrap server would be \"{last}\""),
        Ty::Regexes => format!(
            "the last pattern would be \"{last}\", which only matches names containing the comment text"
        ),
        Ty::Bool => format!("\"{}\" is not a boolean", mm2::java_trim(value)),
        Ty::Separator => format!("the separator would be \"{value}\""),
        _ => format!("\"{}\" is not a valid value", mm2::java_trim(value)),
    }
}

/// A key split into its scope.
#[derive(Debug)]
struct Classified<'a> {
    scope: Scope,
    sub: &'a str,
    /// `(source, target)` for flow keys.
    flow: Option<(&'a str, &'a str)>,
    /// Problems with the aliases the key names.
    problems: Vec<AliasProblem>,
    /// The key belongs to a cluster that is simply not listed: nothing more to check.
    unlisted: bool,
}

#[derive(Debug)]
enum AliasProblem {
    Unknown {
        alias: String,
        suggestion: Option<String>,
    },
    Case {
        alias: String,
        expected: String,
    },
    Unlisted {
        alias: String,
    },
}

fn alias_problem(alias: &str, aliases: &[String]) -> AliasProblem {
    match closest(alias, aliases.iter().map(String::as_str)) {
        Some(a) if a.eq_ignore_ascii_case(alias) => AliasProblem::Case {
            alias: alias.to_string(),
            expected: a.to_string(),
        },
        other => AliasProblem::Unknown {
            alias: alias.to_string(),
            suggestion: other.map(str::to_string),
        },
    }
}

fn is_near_alias(word: &str, aliases: &[String]) -> bool {
    closest(word, aliases.iter().map(String::as_str)).is_some()
}

/// Splits `rest` (a flow key after `->`) into target alias and sub-key when no listed alias
/// matches: prefer a split whose sub-key MM2 knows, then one whose alias is near a listed one.
fn guess_flow_split<'a>(rest: &'a str, aliases: &[String]) -> (&'a str, &'a str) {
    let splits: Vec<(&str, &str)> = rest
        .match_indices('.')
        .map(|(i, _)| (&rest[..i], &rest[i + 1..]))
        .collect();
    splits
        .iter()
        .find(|(_, sub)| lookup(Scope::Flow, sub).recognized())
        .or_else(|| splits.iter().find(|(t, _)| is_near_alias(t, aliases)))
        .or_else(|| splits.first())
        .copied()
        .unwrap_or((rest, ""))
}

fn longest_alias<'a>(key: &str, aliases: &'a [String]) -> Option<&'a str> {
    aliases
        .iter()
        .filter(|a| {
            key.len() > a.len() && key.starts_with(a.as_str()) && key[a.len()..].starts_with('.')
        })
        .max_by_key(|a| a.len())
        .map(String::as_str)
}

fn classify<'a>(key: &'a str, aliases: &[String], listed: bool) -> Classified<'a> {
    if let Some((source, rest)) = key.split_once("->") {
        let (target, sub) = match longest_alias(rest, aliases) {
            Some(a) => (&rest[..a.len()], &rest[a.len() + 1..]),
            None => guess_flow_split(rest, aliases),
        };
        let mut problems = Vec::new();
        for alias in [source, target] {
            if !aliases.iter().any(|a| a == alias) {
                problems.push(alias_problem(alias, aliases));
            }
        }
        return Classified {
            scope: Scope::Flow,
            sub,
            flow: Some((source, target)),
            problems,
            unlisted: false,
        };
    }
    if let Some(a) = longest_alias(key, aliases) {
        return Classified {
            scope: Scope::Cluster,
            sub: &key[a.len() + 1..],
            flow: None,
            problems: Vec::new(),
            unlisted: false,
        };
    }
    let top = Classified {
        scope: Scope::Top,
        sub: key,
        flow: None,
        problems: Vec::new(),
        unlisted: false,
    };
    let top_lookup = lookup(Scope::Top, key);
    if matches!(
        top_lookup,
        Lookup::Exact(_) | Lookup::Misplaced(_) | Lookup::Prefix(_) | Lookup::MisplacedPrefix(_)
    ) {
        return top;
    }
    let splits: Vec<(&str, &str)> = key
        .match_indices('.')
        .map(|(i, _)| (&key[..i], &key[i + 1..]))
        .filter(|(_, r)| lookup(Scope::Cluster, r).recognized())
        .collect();
    // A misspelt or miscased alias in front of a cluster key.
    if let Some((alias, sub)) = splits.iter().find(|(p, _)| is_near_alias(p, aliases)) {
        return Classified {
            scope: Scope::Cluster,
            sub,
            flow: None,
            problems: vec![alias_problem(alias, aliases)],
            unlisted: false,
        };
    }
    if !listed {
        return top;
    }
    // A cluster key for an alias nobody listed.
    if let Some((alias, sub)) = splits.first() {
        return Classified {
            scope: Scope::Cluster,
            sub,
            flow: None,
            problems: vec![AliasProblem::Unlisted {
                alias: alias.to_string(),
            }],
            unlisted: true,
        };
    }
    top
}

/// Guesses the cluster aliases a file uses (when `clusters` is missing), in file order: the
/// alias in front of every cluster-level key and both aliases of every flow key.
pub(crate) fn infer_aliases(entries: &[Entry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |a: &str| {
        if !a.is_empty() && !out.iter().any(|o| o == a) {
            out.push(a.to_string());
        }
    };
    for e in entries {
        let key = e.key.as_str();
        if let Some((source, rest)) = key.split_once("->") {
            let (target, _) = guess_flow_split(rest, &[]);
            push(source);
            push(target);
            continue;
        }
        if !matches!(lookup(Scope::Top, key), Lookup::Unknown | Lookup::Typo(..)) {
            continue;
        }
        if let Some((alias, _)) = key
            .match_indices('.')
            .map(|(i, _)| (&key[..i], &key[i + 1..]))
            .find(|(_, r)| lookup(Scope::Cluster, r).recognized())
        {
            push(alias);
        }
    }
    out
}

/// Where a misplaced key belongs, as a sentence.
fn misplaced_reason(scope: Scope, sub: &str, spec_scopes: u8) -> String {
    match scope {
        Scope::Top if spec_scopes & F != 0 => format!(
            "MM2 passes only its connector settings from the top level; set it per flow as {{source}}->{{target}}.{sub}"
        ),
        Scope::Top => format!(
            "MM2 reads this Connect worker setting only per target cluster, as {{alias}}.{sub}"
        ),
        Scope::Cluster if sub.starts_with("replication.policy.") => format!(
            "cluster-level replication.policy.* is read only by MirrorClient tools; MM2's connectors (and kmirror) read the top-level {sub} or {{source}}->{{target}}.{sub}"
        ),
        Scope::Cluster if spec_scopes & T != 0 => format!(
            "MM2's connectors do not read cluster-level settings; set {sub} at top level or as {{source}}->{{target}}.{sub}"
        ),
        Scope::Cluster => format!("set {sub} per flow as {{source}}->{{target}}.{sub}"),
        Scope::Flow if spec_scopes & C != 0 => format!(
            "connection settings belong to a cluster: set {{alias}}.{sub} (or {{source}}->{{target}}.source.cluster.{sub})"
        ),
        Scope::Flow => format!("{sub} is read only at top level"),
    }
}

fn misplaced_prefix_reason(scope: Scope, p: &PrefixSpec) -> String {
    match scope {
        Scope::Top if p.scopes & C != 0 => format!(
            "top-level {}* settings are dropped by MM2; set {{alias}}.{}<key> for a cluster's clients",
            p.prefix, p.prefix
        ),
        Scope::Top => format!(
            "MM2 drops top-level {}* settings; set them per flow as {{source}}->{{target}}.{}<key>",
            p.prefix, p.prefix
        ),
        Scope::Cluster => format!(
            "{}* is a flow-level prefix; set {{source}}->{{target}}.{}<key>",
            p.prefix, p.prefix
        ),
        Scope::Flow => format!("{}* is not read at flow level", p.prefix),
    }
}

/// The part of a key a Kafka client sees (after client and cluster prefixes).
fn client_leaf(sub: &str) -> &str {
    let mut s = sub;
    for p in [
        "source.cluster.",
        "target.cluster.",
        "producer.override.",
        "source.",
        "target.",
    ] {
        if let Some(rest) = s.strip_prefix(p) {
            s = rest;
            break;
        }
    }
    for p in ["consumer.", "producer.", "admin."] {
        if let Some(rest) = s.strip_prefix(p) {
            return rest;
        }
    }
    s
}

/// Warnings that depend on the value of a client setting (Java keystores, SASL mechanisms).
fn value_notes(line: usize, key: &str, leaf: &str, value: &str, c: &mut Collector) {
    let v = mm2::java_trim(value);
    let lower = v.to_ascii_lowercase();
    let shown = c.shown(key, v).into_owned();
    match leaf {
        "ssl.truststore.type" | "ssl.keystore.type" if v.eq_ignore_ascii_case("JKS") => {
            c.warn(
                Some(line),
                key,
                WarningKind::UnsupportedByKmirror {
                    reason: format!(
                        "{shown}: kmirror reads PKCS12 and PEM stores; a JKS file is refused when the cluster connects (a PKCS12 file typed JKS is read, as Java does): convert it with `keytool -importkeystore -srcstoretype JKS -deststoretype PKCS12` and set {leaf}=PKCS12"
                    ),
                },
            );
        }
        "ssl.truststore.location" | "ssl.keystore.location"
            if [".jks", ".keystore", ".truststore"]
                .iter()
                .any(|ext| lower.ends_with(ext)) =>
        {
            c.warn(
                Some(line),
                key,
                WarningKind::UnsupportedByKmirror {
                    reason: format!(
                        "\"{shown}\" looks like a JKS store (Kafka's default type); kmirror reads PKCS12 and PEM, and refuses a JKS file when the cluster connects: convert it with `keytool -importkeystore -srckeystore {shown} -srcstoretype JKS -destkeystore NEW.p12 -deststoretype PKCS12`"
                    ),
                },
            );
        }
        "sasl.mechanism" if !matches!(v, "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") => {
            c.warn(
                Some(line),
                key,
                WarningKind::UnsupportedByKmirror {
                    reason: format!(
                        "SASL mechanism {shown}; kmirror speaks PLAIN and SCRAM-SHA-256/512"
                    ),
                },
            );
        }
        l if (l.starts_with("sasl.") || l.starts_with("ssl.")) && l.ends_with(".class") => {
            c.warn(
                Some(line),
                key,
                WarningKind::JvmOnly {
                    reason: JAVA_CLASS.to_string(),
                },
            );
        }
        _ => {}
    }
}

fn note_warning(note: Note, value: &str) -> Option<WarningKind> {
    match note {
        Note::None => None,
        Note::Unused(r) => Some(WarningKind::UnusedByKmirror {
            reason: r.to_string(),
        }),
        Note::Jvm(r) => Some(WarningKind::JvmOnly {
            reason: r.to_string(),
        }),
        Note::JvmUnless(default, r) => {
            let items = mm2::parse_list(value);
            (!(items.is_empty() || items == [default])).then(|| WarningKind::JvmOnly {
                reason: r.to_string(),
            })
        }
        Note::JvmIfSet(r) => (!mm2::parse_list(value).is_empty()).then(|| WarningKind::JvmOnly {
            reason: r.to_string(),
        }),
        Note::Unsupported(r) => Some(WarningKind::UnsupportedByKmirror {
            reason: r.to_string(),
        }),
    }
}

/// Lints every entry: aliases, key names, inline comments, values, notes.
pub(crate) fn lint_entries(entries: &[Entry], raw: &RawMap, aliases: &[String], c: &mut Collector) {
    let listed = raw.contains_key("clusters");
    for e in entries {
        lint_entry(e, aliases, listed, c);
    }
}

fn lint_entry(e: &Entry, aliases: &[String], listed: bool, c: &mut Collector) {
    let line = Some(e.line);
    let key = e.key.as_str();
    let cls = classify(key, aliases, listed);
    for p in &cls.problems {
        match p {
            AliasProblem::Unknown { alias, suggestion } => c.error(
                line,
                key,
                ErrorKind::UnknownAlias {
                    alias: alias.clone(),
                    suggestion: suggestion.clone(),
                    known: aliases.to_vec(),
                },
            ),
            AliasProblem::Case { alias, expected } => c.error(
                line,
                key,
                ErrorKind::AliasCase {
                    alias: alias.clone(),
                    expected: expected.clone(),
                },
            ),
            AliasProblem::Unlisted { alias } => c.warn(
                line,
                key,
                WarningKind::UnlistedCluster {
                    alias: alias.clone(),
                },
            ),
        }
    }
    if cls.unlisted {
        return;
    }
    if let Some((s, t)) = cls.flow
        && s == t
    {
        c.warn(line, key, WarningKind::SelfFlow);
        return;
    }
    let sub = cls.sub;
    let found = lookup(cls.scope, sub);
    // A Kafka client setting: the client it configures and the leaf after the prefix.
    let client = match found {
        Lookup::Prefix(p) => clients::role_of(cls.scope == Scope::Flow, p.prefix)
            .map(|role| (role, p.prefix, &sub[p.prefix.len()..])),
        _ => None,
    };

    // Inline comments: an error where the comment changes a typed value, else a warning.
    // Keys kmirror ignores never fail the file: their problems are warnings.
    let read_by_kmirror = |spec: &Spec| spec.note == Note::None || spec.name == "tasks.max";
    let typed = match found {
        Lookup::Exact(spec) if read_by_kmirror(spec) => Some(spec.ty),
        _ => client.and_then(|(role, _, leaf)| clients::read_type(role, leaf)),
    }
    .filter(|t| t.is_typed());
    if let Some(at) = inline_comment_at(&e.value) {
        let comment = e.value[at..].to_string();
        match typed {
            Some(ty) => c.error(
                line,
                key,
                ErrorKind::InlineComment {
                    comment,
                    consequence: comment_consequence(ty, &e.value, sub),
                },
            ),
            None => c.warn(line, key, WarningKind::InlineComment { comment }),
        }
    }

    match found {
        Lookup::Exact(spec) => {
            let value = recover_value(&e.value);
            let problems: Vec<ErrorKind> = if spec.ty == Ty::Hosts {
                mm2::parse_hosts(value)
                    .into_iter()
                    .filter_map(|h| h.err())
                    .collect()
            } else if sub == "clusters" {
                Vec::new()
            } else {
                mm2::check_value(spec.ty, value).err().into_iter().collect()
            };
            for kind in problems {
                if read_by_kmirror(spec) {
                    c.error(line, key, kind);
                } else {
                    let problem = c.redact(key, kind).to_string();
                    c.warn(line, key, WarningKind::InvalidIgnoredValue { problem });
                }
            }
            if let Some(w) = note_warning(spec.note, value) {
                c.warn(line, key, w);
            }
            if spec.note == Note::None {
                clients::lint_connection(e.line, key, sub, &e.value, None, c);
            }
        }
        Lookup::Misplaced(spec) => c.warn(
            line,
            key,
            WarningKind::IgnoredByMm2 {
                reason: misplaced_reason(cls.scope, sub, spec.scopes),
            },
        ),
        Lookup::Prefix(p) => {
            let rest = &sub[p.prefix.len()..];
            match (client, p.prefix) {
                (Some((role, prefix, leaf)), _) => {
                    clients::lint_leaf(e.line, key, role, prefix, leaf, &e.value, c);
                }
                (None, prefix @ ("source.cluster." | "target.cluster.")) => {
                    clients::lint_connection(e.line, key, rest, &e.value, Some(prefix), c);
                }
                (None, "ssl." | "sasl.") => {
                    clients::lint_connection(e.line, key, sub, &e.value, None, c);
                }
                _ => {}
            }
            if let Some(w) = note_warning(p.note, &e.value) {
                c.warn(line, key, w);
            }
        }
        Lookup::MisplacedPrefix(p) => c.warn(
            line,
            key,
            WarningKind::IgnoredByMm2 {
                reason: misplaced_prefix_reason(cls.scope, p),
            },
        ),
        Lookup::Typo(s, p) => c.error(
            line,
            key,
            ErrorKind::UnknownKey {
                suggestion: Some(suggestion_text(sub, s, p)),
            },
        ),
        Lookup::Unknown => c.warn(line, key, WarningKind::UnknownKey),
    }

    value_notes(e.line, key, client_leaf(sub), &e.value, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("topics", "topcis"), 1);
        assert_eq!(edit_distance("enable", "enabled"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("us.east", "us-east"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn single_letter_aliases_are_not_near_each_other() {
        assert!(!is_near("C", "A"));
        assert!(is_near("us.east", "us-east"));
        assert!(!is_near("topics", "topics"));
    }

    #[test]
    fn closest_prefers_case_insensitive_match() {
        let a = aliases(&["us-east", "us-west"]);
        assert_eq!(
            closest("Us-east", a.iter().map(String::as_str)),
            Some("us-east")
        );
        assert_eq!(
            closest("us.wes", a.iter().map(String::as_str)),
            Some("us-west")
        );
        assert_eq!(closest("eu-central", a.iter().map(String::as_str)), None);
    }

    #[test]
    fn suggest_enabled_for_enable() {
        assert_eq!(suggest(Scope::Flow, "enable").map(|s| s.0), Some("enabled"));
    }

    #[test]
    fn suggest_adds_missing_enabled_suffix() {
        assert_eq!(
            suggest(Scope::Flow, "emit.heartbeats").map(|s| s.0),
            Some("emit.heartbeats.enabled")
        );
    }

    #[test]
    fn suggest_adds_missing_seconds_suffix() {
        assert_eq!(
            suggest(Scope::Top, "refresh.topics.interval.ms").map(|s| s.0),
            Some("refresh.topics.interval.seconds")
        );
    }

    #[test]
    fn suggest_fixes_misspelt_client_prefix() {
        let (s, p) = suggest(Scope::Cluster, "consumr.isolation.level").unwrap_or(("", None));
        assert_eq!(
            suggestion_text("consumr.isolation.level", s, p),
            "consumer.isolation.level"
        );
    }

    #[test]
    fn far_unknown_keys_get_no_suggestion() {
        assert!(suggest(Scope::Top, "record-count").is_none());
    }

    #[test]
    fn classify_flow_with_dotted_unknown_target_alias() {
        let a = aliases(&["us-west", "us-east"]);
        let c = classify("us-west->us.east.topics", &a, true);
        assert_eq!(c.scope, Scope::Flow);
        assert_eq!(c.sub, "topics");
        assert_eq!(c.flow, Some(("us-west", "us.east")));
        assert!(matches!(
            &c.problems[..],
            [AliasProblem::Unknown { alias, suggestion: Some(s) }] if alias == "us.east" && s == "us-east"
        ));
    }

    #[test]
    fn classify_cluster_key_with_near_alias() {
        let a = aliases(&["us-west", "us-east"]);
        let c = classify("us.east.bootstrap.servers", &a, true);
        assert_eq!(c.scope, Scope::Cluster);
        assert_eq!(c.sub, "bootstrap.servers");
        assert!(matches!(&c.problems[..], [AliasProblem::Unknown { .. }]));
    }

    #[test]
    fn classify_cluster_key_with_far_unlisted_alias_is_only_unlisted() {
        let a = aliases(&["A", "B"]);
        let c = classify("C.bootstrap.servers", &a, true);
        assert!(c.unlisted);
    }

    #[test]
    fn classify_prefers_longest_alias() {
        let a = aliases(&["a", "a.b"]);
        let c = classify("a.b.bootstrap.servers", &a, true);
        assert_eq!(c.sub, "bootstrap.servers");
    }

    #[test]
    fn top_level_known_keys_stay_top_level() {
        let a = aliases(&["topics"]);
        // An alias shadowing a key name is MM2's problem too; known keys win for linting.
        let c = classify("ssl.truststore.location", &a, true);
        assert_eq!(c.scope, Scope::Top);
    }

    #[test]
    fn inline_comment_detection_needs_whitespace_before_hash() {
        assert_eq!(inline_comment_at("a, b   # x"), Some(7));
        assert_eq!(inline_comment_at("# x"), Some(0));
        assert_eq!(inline_comment_at("pa#ss"), None);
        assert_eq!(recover_value("foo.*  # only"), "foo.*");
        assert_eq!(recover_value("plain"), "plain");
    }

    #[test]
    fn infer_aliases_from_cluster_and_flow_keys() {
        let entries = super::super::properties::parse(
            "primary.bootstrap.servers = x:1\nus-west.admin.bootstrap.servers = y:2\nA->B.enabled = true\ntopics = .*\n",
        );
        assert_eq!(
            infer_aliases(&entries),
            aliases(&["primary", "us-west", "A", "B"])
        );
    }

    #[test]
    fn every_spec_name_is_unique() {
        for (i, a) in SPECS.iter().enumerate() {
            assert!(
                SPECS.iter().skip(i + 1).all(|b| b.name != a.name),
                "duplicate spec {}",
                a.name
            );
        }
    }
}
