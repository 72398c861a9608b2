//! Typed MirrorMaker 2 configuration: clusters, flows, MM2's precedence rules and defaults.
//! Every problem is collected with file, line and key; warnings travel with the result.
//!
//! # How a flow's settings are assembled (MM2's `MirrorMakerConfig`, mm2-reference §7.1)
//!
//! For a flow `S->T` the connector settings are built in this order, later wins:
//!
//! 1. top-level keys, but only the names MM2's connectors define (`topics`, `tasks.max`,
//!    `replication.policy.*`, `config.providers*`, ...); anything else at top level is dropped;
//! 2. the cluster settings of `S` and `T`: `{S}.consumer|producer|admin.*` become
//!    `source.consumer|producer|admin.*`, every other `{S}.*` key becomes `source.cluster.*`
//!    (same for `T` with `target.`). Connection keys (`bootstrap.servers`, `security.protocol`,
//!    `ssl.*`, `sasl.*`) given as `{S}.key`, or at top level as a fallback for every cluster, are
//!    also copied to `consumer.`, `producer.` and `admin.` unless those are set;
//! 3. flow-level `S->T.*` keys with the prefix stripped, unfiltered;
//! 4. `enabled=false` unless set.
//!
//! MM2's clients are then configured from that map, lowest to highest:
//!
//! | client | built from |
//! |---|---|
//! | [`FlowConfig::source_consumer`] | `source.cluster.` connection keys → `consumer.*` (i.e. `S->T.consumer.*`) → `source.consumer.*` (`{S}.consumer.*`, `S->T.source.consumer.*`); then `enable.auto.commit=false`, `auto.offset.reset=earliest` unless set |
//! | [`FlowConfig::target_consumer`] | same with `target.` |
//! | [`FlowConfig::source_admin`] / [`FlowConfig::target_admin`] | connection keys → `admin.*` → `source.admin.*` / `target.admin.*` |
//! | [`FlowConfig::offset_syncs_producer`] | connection keys of the `offset-syncs.topic.location` cluster → `producer.*` → `source.producer.*` or `target.producer.*` |
//! | [`FlowConfig::target_producer`] | the Connect worker's producer in MM2: `{T}.bootstrap.servers` → `{T}.producer.*` (with copied connection keys) → `S->T.producer.override.*` |
//!
//! So for a consumer property `P` of flow `A->B`: `A->B.source.consumer.P` > `A.consumer.P` >
//! `A->B.consumer.P`, and a top-level `consumer.P` is ignored (with a warning).
//!
//! kmirror configures its connections from two of these maps only, `source_consumer` (source
//! side) and `target_producer` (target side); [`super::clients`] lists the keys it reads from
//! them (typed: a bad value is an error) and warns about every other client key. The other maps
//! are kept to describe what MM2 would do.
//!
//! # Which flows exist
//!
//! [`Mm2Config::flows`] holds one entry per ordered pair MM2 would create a *herder* for: the pair
//! is enabled (`S->T.enabled=true`) **or** heartbeats are on for it (`S->T.emit.heartbeats.enabled`,
//! else top-level `emit.heartbeats.enabled`, default true). MM2 emits heartbeats into `T` even for
//! disabled pairs, which is how `A.heartbeats` reaches `B` for monitoring; so
//! [`FlowConfig::enabled`] says whether records, checkpoints, configs and ACLs flow, and
//! [`FlowConfig::emit_heartbeats_enabled`] whether heartbeats do. [`Mm2Config::enabled_flows`]
//! gives the replicating ones.
//!
//! A cluster without `bootstrap.servers` (its own or the top-level fallback) is an error only
//! when it takes part in an enabled flow. MM2 does not check it up front either: the Connect
//! worker of a herder targeting it silently falls back to Connect's default `localhost:9092`,
//! and the connectors fail when they create their clients. A heartbeat-only flow into such a
//! cluster is dropped with a warning, so every flow in [`Mm2Config::flows`] can connect.
//!
//! Values are parsed the way Kafka's `ConfigDef` parses them (trimmed, case-insensitive booleans,
//! lists split on commas with surrounding whitespace, regexes matched against the whole name).
//!
//! # Config providers and secrets
//!
//! Before anything reads the values, every `${provider:path:key}` reference is replaced by what
//! the providers declared in `config.providers` return (MM2's `ConfigTransformer`, see
//! [`super::providers`]), so cluster, flow and client settings all hold the real value. A
//! reference that cannot be resolved is an error on the line that uses it. Errors and warnings
//! never quote the value of a sensitive key ([`super::is_sensitive`]) or a value that came from a
//! provider; print flow settings with [`Mm2Config::shown`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::lint::{self, Ty};
use super::properties::{self, Entry};
use super::providers::{self, HIDDEN, ProviderProblem};

/// Result alias for this module: errors are the collected [`ConfigErrors`].
pub type Result<T, E = ConfigErrors> = std::result::Result<T, E>;

/// `org.apache.kafka.connect.mirror.DefaultReplicationPolicy`, MM2's default
/// `replication.policy.class` (`MirrorClientConfig.REPLICATION_POLICY_CLASS_DEFAULT`).
pub const DEFAULT_REPLICATION_POLICY_CLASS: &str =
    "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
/// `org.apache.kafka.connect.mirror.IdentityReplicationPolicy` (Kafka 3.0+).
pub const IDENTITY_REPLICATION_POLICY_CLASS: &str =
    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";
/// `MirrorConnectorConfig.TOPIC_FILTER_CLASS_DEFAULT`.
pub const DEFAULT_TOPIC_FILTER_CLASS: &str = "org.apache.kafka.connect.mirror.DefaultTopicFilter";
/// `MirrorCheckpointConfig.GROUP_FILTER_CLASS_DEFAULT`.
pub const DEFAULT_GROUP_FILTER_CLASS: &str = "org.apache.kafka.connect.mirror.DefaultGroupFilter";
/// `MirrorSourceConfig.CONFIG_PROPERTY_FILTER_CLASS_DEFAULT`.
pub const DEFAULT_CONFIG_PROPERTY_FILTER_CLASS: &str =
    "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter";
/// `MirrorClientConfig.FORWARDING_ADMIN_CLASS_DEFAULT` (KIP-787, Kafka 3.4+).
pub const DEFAULT_FORWARDING_ADMIN_CLASS: &str = "org.apache.kafka.clients.admin.ForwardingAdmin";
/// The Connect converter MM2's driver installs for every worker (`MirrorMakerConfig`).
pub const BYTE_ARRAY_CONVERTER_CLASS: &str =
    "org.apache.kafka.connect.converters.ByteArrayConverter";

/// `replication.policy.separator` default (`DefaultReplicationPolicy.SEPARATOR_DEFAULT`).
pub const DEFAULT_SEPARATOR: &str = ".";
/// `replication.policy.internal.topic.separator.enabled` default (KAFKA-15102, Kafka 3.5.2+).
pub const DEFAULT_INTERNAL_TOPIC_SEPARATOR_ENABLED: bool = true;
/// `topics` default (`DefaultTopicFilter.TOPICS_INCLUDE_DEFAULT`).
pub const DEFAULT_TOPICS: &str = ".*";
/// `topics.exclude` default (`DefaultTopicFilter.TOPICS_EXCLUDE_DEFAULT`).
pub const DEFAULT_TOPICS_EXCLUDE: &str = r".*[\-\.]internal, .*\.replica, __.*";
/// `groups` default (`DefaultGroupFilter.GROUPS_INCLUDE_DEFAULT`).
pub const DEFAULT_GROUPS: &str = ".*";
/// `groups.exclude` default (`DefaultGroupFilter.GROUPS_EXCLUDE_DEFAULT`).
pub const DEFAULT_GROUPS_EXCLUDE: &str = "console-consumer-.*, connect-.*, __.*";
/// `config.properties.exclude` default (`DefaultConfigPropertyFilter`, mm2-reference §4.1).
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &str = r"follower\.replication\.throttled\.replicas, leader\.replication\.throttled\.replicas, message\.timestamp\.difference\.max\.ms, message\.timestamp\.type, unclean\.leader\.election\.enable, min\.insync\.replicas";
/// `replication.factor` default for remote topics (`MirrorSourceConfig.REPLICATION_FACTOR_DEFAULT`).
pub const DEFAULT_REPLICATION_FACTOR: i16 = 2;
/// Default of `heartbeats.topic.replication.factor`, `checkpoints.topic.replication.factor` and
/// `offset-syncs.topic.replication.factor` (`MirrorConnectorConfig`, all `3`).
pub const DEFAULT_INTERNAL_TOPIC_REPLICATION_FACTOR: i16 = 3;
/// `refresh.topics.interval.seconds` default (`MirrorSourceConfig`). The seed document says
/// 6000; the source says 600 (10 minutes).
pub const DEFAULT_REFRESH_TOPICS_INTERVAL_SECONDS: u64 = 600;
/// `refresh.groups.interval.seconds` default (`MirrorCheckpointConfig`; the seed says 6000).
pub const DEFAULT_REFRESH_GROUPS_INTERVAL_SECONDS: u64 = 600;
/// `sync.topic.configs.interval.seconds` default (`MirrorSourceConfig`).
pub const DEFAULT_SYNC_TOPIC_CONFIGS_INTERVAL_SECONDS: u64 = 600;
/// `sync.topic.acls.interval.seconds` default (`MirrorSourceConfig`).
pub const DEFAULT_SYNC_TOPIC_ACLS_INTERVAL_SECONDS: u64 = 600;
/// `emit.heartbeats.interval.seconds` default (`MirrorHeartbeatConfig`; the seed says 5).
pub const DEFAULT_EMIT_HEARTBEATS_INTERVAL_SECONDS: u64 = 1;
/// `emit.checkpoints.interval.seconds` default (`MirrorCheckpointConfig`).
pub const DEFAULT_EMIT_CHECKPOINTS_INTERVAL_SECONDS: u64 = 60;
/// `sync.group.offsets.interval.seconds` default (`MirrorCheckpointConfig`).
pub const DEFAULT_SYNC_GROUP_OFFSETS_INTERVAL_SECONDS: u64 = 60;
/// `sync.group.offsets.enabled` default (KIP-545; false since 2.7, the seed says true).
pub const DEFAULT_SYNC_GROUP_OFFSETS_ENABLED: bool = false;
/// `offset.lag.max` default (`MirrorSourceConfig.OFFSET_LAG_MAX_DEFAULT`).
pub const DEFAULT_OFFSET_LAG_MAX: i64 = 100;
/// `tasks.max` default (Connect `ConnectorConfig`).
pub const DEFAULT_TASKS_MAX: u32 = 1;
/// `admin.timeout.ms` default (`MirrorConnectorConfig.ADMIN_TASK_TIMEOUT_MILLIS_DEFAULT`).
pub const DEFAULT_ADMIN_TIMEOUT_MS: u64 = 60_000;

/// Connection keys MM2 copies to every client of a cluster (`MirrorClientConfig.CLIENT_CONFIG_DEF`:
/// bootstrap servers, security protocol and the client SSL/SASL settings).
pub fn is_connection_key(key: &str) -> bool {
    key == "bootstrap.servers"
        || key == "security.protocol"
        || key.starts_with("ssl.")
        || key.starts_with("sasl.")
}

// ---------------------------------------------------------------------------------------------
// Errors and warnings
// ---------------------------------------------------------------------------------------------

/// One configuration error, with the file, line and key it concerns.
///
/// Displays as `connect-mirror-maker.properties:14: us-east->us-west.enable: unknown key; did you
/// mean "enabled"?`; the line is left out when the problem is the absence of a key, and the key
/// when the problem is the file itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}", render(.path, *.line, .key, .kind))]
pub struct ConfigError {
    /// The file as the user named it.
    pub path: String,
    /// 1-based line, when the problem is on a line.
    pub line: Option<usize>,
    /// The key as written in the file (e.g. `us-west->us-east.topics`).
    pub key: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// A warning: the file is usable, but something will not do what it seems to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The file as the user named it.
    pub path: String,
    /// 1-based line, when the warning is about a line.
    pub line: Option<usize>,
    /// The key as written in the file.
    pub key: String,
    /// What the warning is about.
    pub kind: WarningKind,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(&self.path, self.line, &self.key, &self.kind))
    }
}

fn render(path: &str, line: Option<usize>, key: &str, kind: &dyn fmt::Display) -> String {
    let mut out = path.to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    if !key.is_empty() {
        out.push_str(": ");
        out.push_str(key);
    }
    out.push_str(&format!(": {kind}"));
    out
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => String::new(),
    }
}

fn quoted_list(items: &[String]) -> String {
    items.join(", ")
}

/// What is wrong, for a [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read the file: {message}")]
    Io {
        /// The I/O error, as text.
        message: String,
    },
    /// The file starts with a UTF-8 byte-order mark, which Java reads as part of the first key.
    #[error(
        "the file starts with a UTF-8 byte-order mark, which Java reads as part of this key; save the file without it"
    )]
    ByteOrderMark,
    /// A `\uXXXX` escape Java cannot decode; `Properties.load` throws and MM2 does not start.
    #[error("{problem}; Java refuses to load this file")]
    MalformedEscape {
        /// The lexer's description.
        problem: String,
    },
    /// No `clusters` key: MM2 refuses to start.
    #[error("missing required key; {}", clusters_hint(.inferred))]
    MissingClusters {
        /// Aliases guessed from `{alias}.bootstrap.servers` and flow keys, in file order.
        inferred: Vec<String>,
    },
    /// `clusters` lists nothing.
    #[error("lists no cluster aliases")]
    EmptyClusters,
    /// An alias in `clusters` cannot work.
    #[error("invalid cluster alias \"{alias}\": {reason}")]
    InvalidAlias {
        /// The alias.
        alias: String,
        /// Why.
        reason: String,
    },
    /// A key that no MM2 scope knows, close to one that exists.
    #[error("unknown key{}", did_you_mean(.suggestion))]
    UnknownKey {
        /// The nearest known key (without alias or flow prefix).
        suggestion: Option<String>,
    },
    /// A key names a cluster alias that `clusters` does not list.
    #[error("unknown cluster alias \"{alias}\"{}", alias_hint(.suggestion, .known))]
    UnknownAlias {
        /// The alias as written.
        alias: String,
        /// A listed alias it is close to.
        suggestion: Option<String>,
        /// The aliases `clusters` lists.
        known: Vec<String>,
    },
    /// A key names an alias that differs from a listed one only in case.
    #[error(
        "cluster aliases are case-sensitive: \"{alias}\" is not \"{expected}\"; did you mean \"{expected}\"?"
    )]
    AliasCase {
        /// The alias as written.
        alias: String,
        /// The listed alias.
        expected: String,
    },
    /// A cluster taking part in an enabled flow has no `bootstrap.servers`.
    #[error("cluster \"{alias}\" has no bootstrap.servers but takes part in enabled flow{} {}{}", if .flows.len() == 1 { "" } else { "s" }, quoted_list(.flows), hint_suffix(.hint))]
    MissingBootstrapServers {
        /// The alias.
        alias: String,
        /// The enabled flows it takes part in, `S->T`.
        flows: Vec<String>,
        /// A near miss elsewhere in the file, e.g. `line 4 sets "Us-east.bootstrap.servers"`.
        hint: Option<String>,
    },
    /// A `bootstrap.servers` entry is not `host:port`.
    #[error("invalid bootstrap server \"{value}\": expected host:port")]
    InvalidBootstrapServer {
        /// The entry.
        value: String,
    },
    /// A typed value carries an inline `# comment`, which `.properties` keeps in the value.
    #[error(
        "value contains the inline comment \"{comment}\", but .properties files have no inline comments: MM2 would read it as part of the value ({consequence}); move the comment to its own line"
    )]
    InlineComment {
        /// The comment text, from `#` on.
        comment: String,
        /// What MM2 would make of the value.
        consequence: String,
    },
    /// Not `true` or `false`.
    #[error("invalid boolean \"{value}\": expected true or false")]
    InvalidBoolean {
        /// The value.
        value: String,
    },
    /// Not a decimal number.
    #[error("invalid number \"{value}\": expected {expected}")]
    InvalidNumber {
        /// The value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A number outside what the key allows.
    #[error("{value} is out of range: expected {expected}")]
    OutOfRange {
        /// The value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `topics`/`groups`/`*.exclude` item kmirror cannot compile.
    #[error(
        "invalid regex \"{pattern}\" (kmirror uses Rust regex syntax: no look-around or back-references): {reason}"
    )]
    InvalidRegex {
        /// The offending item (or the whole list when no single item fails).
        pattern: String,
        /// The regex engine's message, first line.
        reason: String,
    },
    /// A value outside a fixed set.
    #[error("invalid value \"{value}\": expected one of {}", .allowed.join(", "))]
    InvalidChoice {
        /// The value.
        value: String,
        /// The accepted values.
        allowed: &'static [&'static str],
    },
    /// `replication.policy.class` names a policy kmirror does not implement.
    #[error("unknown replication policy class \"{class}\"{}: kmirror implements DefaultReplicationPolicy and IdentityReplicationPolicy; a custom Java ReplicationPolicy cannot run outside the JVM, and guessing would name remote topics wrongly", did_you_mean(.suggestion))]
    UnknownPolicyClass {
        /// The class as written.
        class: String,
        /// The fully qualified name, when a known simple name was used.
        suggestion: Option<String>,
    },
    /// A Java plug-in class that changes what is replicated (topic/group/config filters).
    #[error("unsupported class \"{class}\": {reason}")]
    UnsupportedClass {
        /// The class as written.
        class: String,
        /// Why kmirror cannot honour it.
        reason: &'static str,
    },
    /// `replication.policy.separator` cannot be used as given.
    #[error("invalid separator \"{value}\": {reason}")]
    InvalidSeparator {
        /// The value as Java reads it (untrimmed).
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A `${provider:path:key}` reference that cannot be resolved (see [`super::providers`]).
    /// Names the reference, never the secret.
    #[error("cannot resolve \"{reference}\": {problem}")]
    UnresolvedReference {
        /// The reference as written.
        reference: String,
        /// Why.
        problem: ProviderProblem,
    },
    /// A config provider parameter MM2 would refuse (`allowlist.pattern`, `allowed.paths`).
    #[error("invalid config provider parameter \"{value}\": {reason}")]
    InvalidProviderParam {
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

impl ErrorKind {
    /// The same error with every quoted value replaced by [`HIDDEN`], for keys whose value is a
    /// secret.
    fn redacted(self) -> Self {
        let hidden = || HIDDEN.to_string();
        match self {
            ErrorKind::MalformedEscape { .. } => ErrorKind::MalformedEscape {
                problem: format!("the value ({HIDDEN}) has an invalid \\u escape"),
            },
            ErrorKind::InvalidAlias { reason, .. } => ErrorKind::InvalidAlias {
                alias: hidden(),
                reason,
            },
            ErrorKind::InvalidBootstrapServer { .. } => {
                ErrorKind::InvalidBootstrapServer { value: hidden() }
            }
            ErrorKind::InlineComment { .. } => ErrorKind::InlineComment {
                comment: format!("# {HIDDEN}"),
                consequence: "the value would not be valid".to_string(),
            },
            ErrorKind::InvalidBoolean { .. } => ErrorKind::InvalidBoolean { value: hidden() },
            ErrorKind::InvalidNumber { expected, .. } => ErrorKind::InvalidNumber {
                value: hidden(),
                expected,
            },
            ErrorKind::OutOfRange { expected, .. } => ErrorKind::OutOfRange {
                value: hidden(),
                expected,
            },
            ErrorKind::InvalidRegex { reason, .. } => ErrorKind::InvalidRegex {
                pattern: hidden(),
                reason,
            },
            ErrorKind::InvalidChoice { allowed, .. } => ErrorKind::InvalidChoice {
                value: hidden(),
                allowed,
            },
            ErrorKind::UnknownPolicyClass { .. } => ErrorKind::UnknownPolicyClass {
                class: hidden(),
                suggestion: None,
            },
            ErrorKind::UnsupportedClass { reason, .. } => ErrorKind::UnsupportedClass {
                class: hidden(),
                reason,
            },
            ErrorKind::InvalidSeparator { reason, .. } => ErrorKind::InvalidSeparator {
                value: hidden(),
                reason,
            },
            ErrorKind::InvalidProviderParam { reason, .. } => ErrorKind::InvalidProviderParam {
                value: hidden(),
                reason,
            },
            other => other,
        }
    }
}

fn clusters_hint(inferred: &[String]) -> String {
    if inferred.is_empty() {
        "MM2 refuses to start without it; list the cluster aliases, e.g. `clusters = A, B`"
            .to_string()
    } else {
        format!(
            "MM2 refuses to start without it; add `clusters = {}`",
            inferred.join(", ")
        )
    }
}

fn alias_hint(suggestion: &Option<String>, known: &[String]) -> String {
    match suggestion {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None if known.is_empty() => String::new(),
        None => format!(" (clusters lists: {})", known.join(", ")),
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!("; {h}"),
        None => String::new(),
    }
}

/// What a [`Diagnostic`] warns about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The key appears again later; the last value wins, as in Java.
    DuplicateKey {
        /// The line of the earlier value.
        first_line: usize,
    },
    /// A free-form value carries an inline `# comment`, kept in the value as Java does.
    InlineComment {
        /// The comment text, from `#` on.
        comment: String,
    },
    /// MM2 or Connect accepts the key, but it means nothing to kmirror.
    UnusedByKmirror {
        /// Why.
        reason: String,
    },
    /// The key configures Java code (a class, JVM keystore, config provider, ...).
    JvmOnly {
        /// Why kmirror ignores it and what to do instead.
        reason: String,
    },
    /// A real MM2 feature kmirror does not implement (yet).
    UnsupportedByKmirror {
        /// What is missing.
        reason: String,
    },
    /// MM2 itself ignores the key where it is written.
    IgnoredByMm2 {
        /// Where it belongs instead.
        reason: String,
    },
    /// The key does something, but probably not what it looks like.
    Ineffective {
        /// Why.
        reason: String,
    },
    /// A value MM2 would reject, for a key kmirror ignores.
    InvalidIgnoredValue {
        /// What MM2 would object to.
        problem: String,
    },
    /// A key no MM2 scope knows and not close to one that does.
    UnknownKey,
    /// A cluster-level key for an alias `clusters` does not list (and not close to one).
    UnlistedCluster {
        /// The alias.
        alias: String,
    },
    /// A deprecated alias of a key (Kafka 2.4–3.9; removed in 4.0).
    Deprecated {
        /// The current name.
        replacement: &'static str,
    },
    /// A deprecated alias set together with its replacement, which wins.
    DeprecatedShadowed {
        /// The current name.
        replacement: &'static str,
    },
    /// A flow key whose source and target are the same alias: MM2 never creates such a flow.
    SelfFlow,
    /// The same alias appears twice in `clusters`.
    DuplicateAlias {
        /// The alias.
        alias: String,
    },
    /// No flow is enabled: only heartbeats would be emitted.
    NoEnabledFlows,
    /// Top-level `enabled=true` enables every flow MM2 creates a herder for.
    TopLevelEnabled {
        /// How many flows that enables.
        flows: usize,
    },
    /// A heartbeat-only flow is skipped because its target has no `bootstrap.servers`.
    HeartbeatsSkipped {
        /// The flow, `S->T`.
        flow: String,
    },
    /// Non-ASCII text: Java reads `.properties` files as ISO-8859-1.
    NonAscii,
    /// The file is not UTF-8 and was decoded as ISO-8859-1, as Java does.
    Latin1Decoded,
    /// An alias contains the flow's replication separator.
    AliasContainsSeparator {
        /// The alias.
        alias: String,
        /// The separator.
        separator: String,
    },
}

impl WarningKind {
    /// The same warning with quoted values replaced by [`HIDDEN`], for keys whose value is a
    /// secret. Warnings built from a value's text ([`WarningKind::InvalidIgnoredValue`],
    /// notes on keystores and SASL mechanisms) are given the hidden text when built.
    fn redacted(self) -> Self {
        match self {
            WarningKind::InlineComment { .. } => WarningKind::InlineComment {
                comment: format!("# {HIDDEN}"),
            },
            other => other,
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::DuplicateKey { first_line } => write!(
                f,
                "duplicate key: overrides the value on line {first_line} (the last value wins)"
            ),
            WarningKind::InlineComment { comment } => write!(
                f,
                "value contains \"{comment}\", but .properties files have no inline comments: MM2 and kmirror keep it in the value; move the comment to its own line"
            ),
            WarningKind::UnusedByKmirror { reason } => write!(f, "ignored by kmirror: {reason}"),
            WarningKind::JvmOnly { reason } => {
                write!(f, "Java-only setting, ignored by kmirror: {reason}")
            }
            WarningKind::UnsupportedByKmirror { reason } => {
                write!(f, "not supported by kmirror: {reason}")
            }
            WarningKind::IgnoredByMm2 { reason } => {
                write!(f, "MM2 ignores this key here: {reason}")
            }
            WarningKind::Ineffective { reason } => f.write_str(reason),
            WarningKind::InvalidIgnoredValue { problem } => write!(
                f,
                "kmirror ignores this key, but MM2 would reject the value: {problem}"
            ),
            WarningKind::UnknownKey => f.write_str("unknown key, ignored by MM2 and kmirror"),
            WarningKind::UnlistedCluster { alias } => write!(
                f,
                "cluster \"{alias}\" is not listed in clusters; key ignored"
            ),
            WarningKind::Deprecated { replacement } => write!(
                f,
                "deprecated name of \"{replacement}\" (removed in Kafka 4.0); rename it"
            ),
            WarningKind::DeprecatedShadowed { replacement } => write!(
                f,
                "ignored: deprecated name of \"{replacement}\", which is also set and wins"
            ),
            WarningKind::SelfFlow => f.write_str(
                "a flow from a cluster to itself is never created; key ignored",
            ),
            WarningKind::DuplicateAlias { alias } => {
                write!(f, "alias \"{alias}\" is listed twice")
            }
            WarningKind::NoEnabledFlows => f.write_str(
                "no flow is enabled (set {source}->{target}.enabled = true); only heartbeats would be emitted",
            ),
            WarningKind::TopLevelEnabled { flows } => write!(
                f,
                "top-level enabled=true enables every flow MM2 creates a herder for ({flows} flows); prefer {{source}}->{{target}}.enabled"
            ),
            WarningKind::HeartbeatsSkipped { flow } => write!(
                f,
                "no bootstrap.servers: heartbeats of flow {flow} cannot be emitted; flow skipped"
            ),
            WarningKind::NonAscii => f.write_str(
                "non-ASCII text: MM2 reads .properties files as ISO-8859-1 and would see different characters; use \\uXXXX escapes",
            ),
            WarningKind::Latin1Decoded => f.write_str(
                "the file is not valid UTF-8; decoded as ISO-8859-1, as Java does",
            ),
            WarningKind::AliasContainsSeparator { alias, separator } => write!(
                f,
                "alias \"{alias}\" contains the replication separator \"{separator}\": remote topics \"{alias}{separator}...\" will be read back as coming from \"{}\", which breaks cycle detection",
                alias.split(separator.as_str()).next().unwrap_or_default()
            ),
        }
    }
}

/// All errors found in a file (never just the first), plus the warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigErrors {
    /// Errors, sorted by line.
    pub errors: Vec<ConfigError>,
    /// Warnings, sorted by line.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors and warnings for one file.
#[derive(Debug)]
pub(crate) struct Collector {
    path: String,
    errors: Vec<ConfigError>,
    warnings: Vec<Diagnostic>,
    /// Rendered diagnostics already recorded, so a top-level problem shared by many flows is
    /// reported once (and deduplication stays linear on huge files).
    seen: HashSet<String>,
    /// Keys (as written) whose value came from a config provider.
    provided: HashSet<String>,
}

impl Collector {
    fn new(path: &str) -> Self {
        Collector {
            path: path.to_string(),
            errors: Vec::new(),
            warnings: Vec::new(),
            seen: HashSet::new(),
            provided: HashSet::new(),
        }
    }

    /// Records that the value of `key` came from a config provider, so it is never quoted.
    pub(crate) fn mark_provided(&mut self, key: &str) {
        self.provided.insert(key.to_string());
    }

    /// Whether diagnostics about `key` must not quote its value: a sensitive key
    /// ([`providers::is_sensitive`]) or a value from a config provider.
    pub(crate) fn hides(&self, key: &str) -> bool {
        providers::is_sensitive(key) || self.provided.contains(key)
    }

    /// `value` as a diagnostic about `key` may quote it.
    pub(crate) fn shown<'a>(&self, key: &str, value: &'a str) -> Cow<'a, str> {
        if self.hides(key) {
            Cow::Borrowed(HIDDEN)
        } else {
            Cow::Borrowed(value)
        }
    }

    /// `kind` as a diagnostic about `key` may show it.
    pub(crate) fn redact(&self, key: &str, kind: ErrorKind) -> ErrorKind {
        if self.hides(key) {
            kind.redacted()
        } else {
            kind
        }
    }

    pub(crate) fn error(&mut self, line: Option<usize>, key: &str, kind: ErrorKind) {
        let e = ConfigError {
            path: self.path.clone(),
            line,
            key: key.to_string(),
            kind: self.redact(key, kind),
        };
        if self.seen.insert(format!("E{e}")) {
            self.errors.push(e);
        }
    }

    pub(crate) fn warn(&mut self, line: Option<usize>, key: &str, kind: WarningKind) {
        let kind = if self.hides(key) {
            kind.redacted()
        } else {
            kind
        };
        let w = Diagnostic {
            path: self.path.clone(),
            line,
            key: key.to_string(),
            kind,
        };
        if self.seen.insert(format!("W{w}")) {
            self.warnings.push(w);
        }
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    fn finish(mut self) -> ConfigErrors {
        // Stable sort: problems without a line first, then by line, keeping discovery order.
        self.errors.sort_by_key(|e| e.line.unwrap_or(0));
        self.warnings.sort_by_key(|w| w.line.unwrap_or(0));
        ConfigErrors {
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The typed configuration
// ---------------------------------------------------------------------------------------------

/// A whole MM2 file: clusters, flows, and the warnings found while reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mm2Config {
    /// Clusters in `clusters` order.
    pub clusters: Vec<ClusterConfig>,
    /// One entry per pair MM2 creates a herder for (see the module docs), ordered by the
    /// position of source, then target, in `clusters`.
    pub flows: Vec<FlowConfig>,
    /// Warnings, sorted by line.
    pub warnings: Vec<Diagnostic>,
    /// Lines whose value came from a config provider.
    provided_lines: BTreeSet<usize>,
}

impl Mm2Config {
    /// The flows that replicate (`S->T.enabled=true`), in order.
    pub fn enabled_flows(&self) -> impl Iterator<Item = &FlowConfig> {
        self.flows.iter().filter(|f| f.enabled)
    }

    /// Whether the value set on `line` came from a config provider (`${provider:path:key}`).
    pub fn is_provided(&self, line: usize) -> bool {
        self.provided_lines.contains(&line)
    }

    /// A flow setting ([`FlowConfig::settings`]) as it may be printed: [`HIDDEN`] when the key
    /// is sensitive ([`providers::is_sensitive`], for the setting's name or the key written in
    /// the file) or the value came from a config provider, else the value.
    pub fn shown<'a>(&self, key: &str, value: &'a str, origin: &Origin) -> Cow<'a, str> {
        let file_key_sensitive =
            matches!(origin, Origin::Cluster { key, .. } if providers::is_sensitive(key));
        if providers::is_sensitive(key)
            || file_key_sensitive
            || origin.line().is_some_and(|l| self.is_provided(l))
        {
            Cow::Borrowed(HIDDEN)
        } else {
            Cow::Borrowed(value)
        }
    }

    /// The cluster with this alias (aliases are case-sensitive).
    pub fn cluster(&self, alias: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.alias == alias)
    }

    /// The flow `source->target`, if MM2 would create it.
    pub fn flow(&self, source: &str, target: &str) -> Option<&FlowConfig> {
        self.flows
            .iter()
            .find(|f| f.source == source && f.target == target)
    }
}

/// One cluster alias and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The alias as listed in `clusters`.
    pub alias: String,
    /// `{alias}.bootstrap.servers` (or the top-level fallback), as `host:port` items; empty when
    /// not set. A `PROTOCOL://` prefix, which Kafka clients tolerate, is removed.
    pub bootstrap_servers: Vec<String>,
    /// Every `{alias}.<key>` with the prefix stripped, plus top-level connection keys
    /// ([`is_connection_key`]) the alias does not set. May contain secrets.
    pub props: BTreeMap<String, String>,
}

/// The replication policy of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Which policy.
    pub class: PolicyKind,
    /// `replication.policy.separator`, exactly as MM2 uses it (untrimmed).
    pub separator: String,
    /// `replication.policy.internal.topic.separator.enabled`. MM2 reads it only when the
    /// separator key is present; with the default separator it makes no difference.
    pub internal_topic_separator_enabled: bool,
}

/// The replication policies kmirror implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyKind {
    /// `DefaultReplicationPolicy`: remote topics are `{source}{separator}{topic}`.
    Default,
    /// `IdentityReplicationPolicy`: remote topics keep their names (no cycle detection).
    Identity,
}

/// Where the offset-syncs topic lives (`offset-syncs.topic.location`, Kafka 3.0+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsTopicLocation {
    /// On the source cluster, named after the target (default).
    Source,
    /// On the target cluster, named after the source.
    Target,
}

/// Whose defaults a source topic's default-valued configs map to (`use.defaults.from`, 3.5+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseDefaultsFrom {
    /// Default-valued source configs are deleted on the target (target's defaults apply).
    Target,
    /// Default-valued source configs are copied too.
    Source,
}

/// Where an effective flow setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// MM2's default.
    Default,
    /// Filled in by MM2's driver (`source.cluster.alias`, `target.cluster.alias`, `enabled`).
    Implied,
    /// A top-level key on this line.
    TopLevel {
        /// 1-based line.
        line: usize,
    },
    /// A cluster-level key (`{alias}.key`, or a top-level connection key used as the cluster's
    /// fallback) on this line.
    Cluster {
        /// The cluster.
        alias: String,
        /// The key as written in the file.
        key: String,
        /// 1-based line.
        line: usize,
    },
    /// A flow-level key `S->T.key` on this line.
    Flow {
        /// 1-based line.
        line: usize,
    },
}

impl Origin {
    fn line(&self) -> Option<usize> {
        match self {
            Origin::Default | Origin::Implied => None,
            Origin::TopLevel { line } | Origin::Flow { line } | Origin::Cluster { line, .. } => {
                Some(*line)
            }
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Implied => f.write_str("set by MM2"),
            Origin::TopLevel { line } => write!(f, "line {line} (top level)"),
            Origin::Cluster { key, line, .. } => write!(f, "line {line} ({key})"),
            Origin::Flow { line } => write!(f, "line {line} (flow)"),
        }
    }
}

/// One flow `source->target` with every setting kmirror needs, after MM2's precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Source alias.
    pub source: String,
    /// Target alias.
    pub target: String,
    /// Whether records, checkpoints, topic configs and ACLs are replicated (`enabled`).
    pub enabled: bool,
    /// `topics`: regexes, each matched against the whole topic name; empty matches nothing.
    pub topics: Vec<String>,
    /// `topics.exclude` (or the deprecated `topics.blacklist`).
    pub topics_exclude: Vec<String>,
    /// `groups`: regexes for consumer groups whose offsets are checkpointed.
    pub groups: Vec<String>,
    /// `groups.exclude` (or the deprecated `groups.blacklist`).
    pub groups_exclude: Vec<String>,
    /// `config.properties.exclude`: topic config names never synced.
    pub config_properties_exclude: Vec<String>,
    /// `replication.policy.*`.
    pub replication_policy: PolicyConfig,
    /// `replication.factor` of remote topics (`-1`: the broker's default).
    pub replication_factor: i16,
    /// `refresh.topics.enabled`.
    pub refresh_topics_enabled: bool,
    /// `refresh.topics.interval.seconds`.
    pub refresh_topics_interval: Duration,
    /// `refresh.groups.enabled`.
    pub refresh_groups_enabled: bool,
    /// `refresh.groups.interval.seconds`.
    pub refresh_groups_interval: Duration,
    /// `emit.heartbeats.enabled`.
    pub emit_heartbeats_enabled: bool,
    /// `emit.heartbeats.interval.seconds`.
    pub emit_heartbeats_interval: Duration,
    /// `emit.checkpoints.enabled`.
    pub emit_checkpoints_enabled: bool,
    /// `emit.checkpoints.interval.seconds`.
    pub emit_checkpoints_interval: Duration,
    /// `sync.group.offsets.enabled`.
    pub sync_group_offsets_enabled: bool,
    /// `sync.group.offsets.interval.seconds`.
    pub sync_group_offsets_interval: Duration,
    /// `sync.topic.configs.enabled`.
    pub sync_topic_configs_enabled: bool,
    /// `sync.topic.configs.interval.seconds`.
    pub sync_topic_configs_interval: Duration,
    /// `sync.topic.acls.enabled`.
    pub sync_topic_acls_enabled: bool,
    /// `sync.topic.acls.interval.seconds`.
    pub sync_topic_acls_interval: Duration,
    /// `emit.offset-syncs.enabled` (Kafka 3.9+).
    pub emit_offset_syncs_enabled: bool,
    /// `offset-syncs.topic.location`.
    pub offset_syncs_topic_location: OffsetSyncsTopicLocation,
    /// `offset.lag.max`.
    pub offset_lag_max: i64,
    /// `heartbeats.replication.enabled` (Kafka 4.0+): replicate heartbeats topics even when the
    /// topic filter does not select them.
    pub heartbeats_replication_enabled: bool,
    /// `use.defaults.from` (read only per flow, as in MM2).
    pub use_defaults_from: UseDefaultsFrom,
    /// `admin.timeout.ms`.
    pub admin_timeout: Duration,
    /// `heartbeats.topic.replication.factor`.
    pub heartbeats_topic_replication_factor: i16,
    /// `checkpoints.topic.replication.factor`.
    pub checkpoints_topic_replication_factor: i16,
    /// `offset-syncs.topic.replication.factor`.
    pub offset_syncs_topic_replication_factor: i16,
    /// `tasks.max`. kmirror has no Connect tasks; the engine decides what this bounds.
    pub tasks_max: u32,
    /// Replication consumer on the source (see the module docs for precedence).
    pub source_consumer: BTreeMap<String, String>,
    /// Consumer on the target (checkpoints, offset syncs when located on the target).
    pub target_consumer: BTreeMap<String, String>,
    /// Producer writing replicated records to the target.
    pub target_producer: BTreeMap<String, String>,
    /// Producer writing offset syncs (to the `offset-syncs.topic.location` cluster).
    pub offset_syncs_producer: BTreeMap<String, String>,
    /// Admin client on the source.
    pub source_admin: BTreeMap<String, String>,
    /// Admin client on the target.
    pub target_admin: BTreeMap<String, String>,
    /// Every effective connector-level setting of the flow (MM2 key names, e.g. `topics`,
    /// `source.cluster.bootstrap.servers`) with its origin, defaults included, for
    /// `kmirror check`. Values may be secrets: print them with [`Mm2Config::shown`].
    pub settings: BTreeMap<String, (String, Origin)>,
}

impl FlowConfig {
    /// The flow's name as MM2 writes it: `source->target`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Reads and checks an MM2 properties file.
///
/// Bytes are decoded as UTF-8 when valid, else as ISO-8859-1 (what Java always does, with a
/// warning). Errors name `path` as given.
pub fn load(path: &Path) -> Result<Mm2Config> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let mut c = Collector::new(&name);
            c.error(
                None,
                "",
                ErrorKind::Io {
                    message: e.to_string(),
                },
            );
            return Err(c.finish());
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => parse_inner(&text, &name, false),
        Err(e) => {
            let text: String = e.into_bytes().iter().map(|&b| char::from(b)).collect();
            parse_inner(&text, &name, true)
        }
    }
}

/// Checks MM2 properties text; `file` names it in diagnostics.
pub fn parse_str(text: &str, file: &str) -> Result<Mm2Config> {
    parse_inner(text, file, false)
}

fn parse_inner(text: &str, file: &str, latin1: bool) -> Result<Mm2Config> {
    parse_with_env(text, file, latin1, &providers::process_env)
}

/// A value as it stands in the file.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub(crate) value: String,
    pub(crate) line: usize,
}

/// The last value of every key, as Java keeps it.
pub(crate) type RawMap = BTreeMap<String, Raw>;

/// [`parse_str`] with `${env:NAME}` references looked up in `env`.
pub(crate) fn parse_with_env(
    text: &str,
    file: &str,
    latin1: bool,
    env: providers::EnvLookup<'_>,
) -> Result<Mm2Config> {
    let mut c = Collector::new(file);
    if latin1 {
        c.warn(None, "", WarningKind::Latin1Decoded);
    }
    let lexed = properties::lex(text);
    let key_at: HashMap<usize, &str> = lexed
        .entries
        .iter()
        .map(|e| (e.line, e.key.as_str()))
        .collect();
    for p in &lexed.problems {
        c.error(
            Some(p.line),
            key_at.get(&p.line).copied().unwrap_or_default(),
            ErrorKind::MalformedEscape {
                problem: p.kind.to_string(),
            },
        );
    }
    let mut entries = lexed.entries;
    if let Some(first) = entries.first()
        && first.key.starts_with('\u{feff}')
    {
        c.error(Some(first.line), &first.key, ErrorKind::ByteOrderMark);
    }
    if !latin1 {
        for e in &entries {
            if !e.key.is_ascii() || !e.value.is_ascii() {
                c.warn(Some(e.line), &e.key, WarningKind::NonAscii);
            }
        }
    }

    // Config providers first, so every later step sees the real values.
    let provided_lines = providers::expand(&mut entries, env, &mut c);

    let raw = raw_map(&entries, &mut c);
    let (aliases, clusters_ok) = read_aliases(&raw, &entries, &mut c);
    lint::lint_entries(&entries, &raw, &aliases, &mut c);
    if !clusters_ok {
        return Err(c.finish());
    }

    let clusters: Vec<ClusterConfig> = aliases.iter().map(|a| build_cluster(&raw, a)).collect();
    let mut flows = Vec::new();
    for s in &aliases {
        for t in &aliases {
            if s == t {
                continue;
            }
            if let Some(flow) = build_flow(&raw, s, t, &mut c) {
                flows.push(flow);
            }
        }
    }
    cross_checks(&raw, &entries, &clusters, &mut flows, &mut c);

    if c.has_errors() {
        return Err(c.finish());
    }
    let warnings = c.finish().warnings;
    Ok(Mm2Config {
        clusters,
        flows,
        warnings,
        provided_lines,
    })
}

fn raw_map(entries: &[Entry], c: &mut Collector) -> RawMap {
    let mut raw = RawMap::new();
    for e in entries {
        if let Some(prev) = raw.get(&e.key) {
            c.warn(
                Some(e.line),
                &e.key,
                WarningKind::DuplicateKey {
                    first_line: prev.line,
                },
            );
        }
        raw.insert(
            e.key.clone(),
            Raw {
                value: e.value.clone(),
                line: e.line,
            },
        );
    }
    raw
}

/// Reads `clusters`; returns the aliases (inferred ones when the key is missing) and whether the
/// key was usable.
fn read_aliases(raw: &RawMap, entries: &[Entry], c: &mut Collector) -> (Vec<String>, bool) {
    let Some(r) = raw.get("clusters") else {
        let inferred = lint::infer_aliases(entries);
        c.error(
            None,
            "clusters",
            ErrorKind::MissingClusters {
                inferred: inferred.clone(),
            },
        );
        return (inferred, false);
    };
    // An inline comment is reported by lint; recover the intended list here.
    let items = parse_list(lint::recover_value(&r.value));
    if items.is_empty() {
        c.error(Some(r.line), "clusters", ErrorKind::EmptyClusters);
        return (Vec::new(), false);
    }
    let mut aliases: Vec<String> = Vec::new();
    let mut ok = true;
    for alias in items {
        let reason = if alias.is_empty() {
            Some("empty alias (stray comma?)")
        } else if alias.contains("->") {
            Some("contains \"->\", which separates the aliases of a flow")
        } else if alias.chars().any(char::is_whitespace) {
            Some("contains whitespace")
        } else {
            None
        };
        if let Some(reason) = reason {
            c.error(
                Some(r.line),
                "clusters",
                ErrorKind::InvalidAlias {
                    alias: alias.clone(),
                    reason: reason.to_string(),
                },
            );
            ok = false;
            continue;
        }
        if aliases.contains(&alias) {
            c.warn(
                Some(r.line),
                "clusters",
                WarningKind::DuplicateAlias { alias },
            );
            continue;
        }
        aliases.push(alias);
    }
    (aliases, ok)
}

// ---------------------------------------------------------------------------------------------
// Value parsing, the way Kafka's ConfigDef does it
// ---------------------------------------------------------------------------------------------

/// `String.trim()`: strips every char up to U+0020.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Parses a `ConfigDef` LIST: trimmed; empty → no items; else split on commas with the
/// surrounding whitespace removed, empty items kept.
pub(crate) fn parse_list(value: &str) -> Vec<String> {
    let t = java_trim(value);
    if t.is_empty() {
        return Vec::new();
    }
    t.split(',')
        .map(|item| item.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}'))
        .map(str::to_string)
        .collect()
}

/// Parses a `ConfigDef` BOOLEAN (trimmed, case-insensitive).
pub(crate) fn parse_bool(value: &str) -> std::result::Result<bool, ErrorKind> {
    let t = java_trim(value);
    if t.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if t.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ErrorKind::InvalidBoolean {
            value: value.to_string(),
        })
    }
}

/// `Boolean.parseBoolean`, which MM2's driver uses (untrimmed) to decide which herders exist.
fn java_parse_boolean(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// Parses a `ConfigDef` LONG/INT/SHORT (trimmed decimal with optional sign).
pub(crate) fn parse_number(
    value: &str,
    expected: &'static str,
) -> std::result::Result<i64, ErrorKind> {
    java_trim(value)
        .parse::<i64>()
        .map_err(|_| ErrorKind::InvalidNumber {
            value: value.to_string(),
            expected,
        })
}

/// What a number was expected to look like: Kafka's clients take no units (`32MB`, `5s`).
fn number_expected(value: &str) -> &'static str {
    let t = java_trim(value);
    if t.starts_with(|c: char| c.is_ascii_digit()) && t.contains(|c: char| c.is_ascii_alphabetic())
    {
        "a whole number, without a unit"
    } else {
        "a whole number"
    }
}

/// Checks a value against its type; `Ok` means MM2 and kmirror both accept it.
pub(crate) fn check_value(ty: Ty, value: &str) -> std::result::Result<(), ErrorKind> {
    let range = |ok: bool, v: &str, expected: &'static str| {
        if ok {
            Ok(())
        } else {
            Err(ErrorKind::OutOfRange {
                value: java_trim(v).to_string(),
                expected,
            })
        }
    };
    match ty {
        Ty::Str | Ty::List => Ok(()),
        Ty::Bool => parse_bool(value).map(|_| ()),
        Ty::Long => parse_number(value, "a whole number").map(|_| ()),
        Ty::Int => {
            let n = parse_number(value, "a whole number")?;
            range(i32::try_from(n).is_ok(), value, "a 32-bit integer")
        }
        Ty::AtLeastOne => {
            let n = parse_number(value, "a whole number")?;
            range((1..=i64::from(i32::MAX)).contains(&n), value, "at least 1")
        }
        Ty::ReplicationFactor => {
            let n = parse_number(value, "a whole number")?;
            range(
                n == -1 || (1..=i64::from(i16::MAX)).contains(&n),
                value,
                "-1 (broker default) or 1 to 32767",
            )
        }
        Ty::Seconds => {
            let n = parse_number(value, "a whole number of seconds")?;
            range(n >= 1, value, "at least 1 second")
        }
        Ty::Millis => {
            let n = parse_number(value, "a whole number of milliseconds")?;
            range(n >= 0, value, "0 or more milliseconds")
        }
        Ty::IntMin(min) => {
            let n = parse_number(value, number_expected(value))?;
            let expected = match min {
                -1 => "-1 (the OS default) or 1 to 2147483647",
                0 => "0 to 2147483647",
                _ => "1 to 2147483647",
            };
            range(
                n >= i64::from(min) && i32::try_from(n).is_ok(),
                value,
                expected,
            )
        }
        Ty::LongMin(min) => {
            let n = parse_number(value, number_expected(value))?;
            range(
                n >= min,
                value,
                if min > 0 { "at least 1" } else { "0 or more" },
            )
        }
        Ty::Regexes => check_regexes(&parse_list(value)),
        Ty::Hosts => match parse_hosts(value).into_iter().find_map(|h| h.err()) {
            Some(e) => Err(e),
            None => Ok(()),
        },
        Ty::Choice(allowed) => {
            let t = java_trim(value);
            if allowed.contains(&t) {
                Ok(())
            } else {
                Err(ErrorKind::InvalidChoice {
                    value: value.to_string(),
                    allowed,
                })
            }
        }
        Ty::ChoiceNoCase(allowed) => {
            let t = java_trim(value);
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(t)) {
                Ok(())
            } else {
                Err(ErrorKind::InvalidChoice {
                    value: value.to_string(),
                    allowed,
                })
            }
        }
        Ty::PolicyClass => policy_kind(value).map(|_| ()),
        Ty::FilterClass(default, reason) => {
            let t = java_trim(value);
            if t == default {
                Ok(())
            } else {
                Err(ErrorKind::UnsupportedClass {
                    class: t.to_string(),
                    reason,
                })
            }
        }
        Ty::Separator => check_separator(value),
        Ty::Class => Ok(()),
    }
}

fn policy_kind(value: &str) -> std::result::Result<PolicyKind, ErrorKind> {
    let t = java_trim(value);
    match t {
        DEFAULT_REPLICATION_POLICY_CLASS => Ok(PolicyKind::Default),
        IDENTITY_REPLICATION_POLICY_CLASS => Ok(PolicyKind::Identity),
        _ => {
            let simple = t.rsplit('.').next().unwrap_or(t);
            let suggestion = [
                DEFAULT_REPLICATION_POLICY_CLASS,
                IDENTITY_REPLICATION_POLICY_CLASS,
            ]
            .into_iter()
            .find(|fq| {
                fq.rsplit('.')
                    .next()
                    .is_some_and(|s| lint::is_near(simple, s) || s.eq_ignore_ascii_case(simple))
            })
            .map(str::to_string);
            Err(ErrorKind::UnknownPolicyClass {
                class: t.to_string(),
                suggestion,
            })
        }
    }
}

fn check_separator(value: &str) -> std::result::Result<(), ErrorKind> {
    // MM2's policy reads the raw string (`configure(originals())`), not ConfigDef's trimmed one.
    if value.is_empty() {
        return Err(ErrorKind::InvalidSeparator {
            value: value.to_string(),
            reason: "empty; remote topic names would be the source alias glued to the topic",
        });
    }
    if value != java_trim(value) {
        return Err(ErrorKind::InvalidSeparator {
            value: value.to_string(),
            reason: "has surrounding whitespace, which MM2 keeps (Java keeps trailing spaces in .properties values): remote topics would contain spaces",
        });
    }
    Ok(())
}

/// Compiles a regex list the way `MirrorUtils.compilePatternList` does: items joined with `|`
/// and matched against the whole name.
pub(crate) fn check_regexes(items: &[String]) -> std::result::Result<(), ErrorKind> {
    if items.is_empty() {
        return Ok(());
    }
    let joined = items.join("|");
    match regex::Regex::new(&format!("^(?:{joined})$")) {
        Ok(_) => Ok(()),
        Err(e) => {
            let culprit = items
                .iter()
                .find_map(|item| {
                    regex::Regex::new(&format!("^(?:{item})$"))
                        .err()
                        .map(|e| (item.clone(), e))
                })
                .unwrap_or((joined, e));
            Err(ErrorKind::InvalidRegex {
                pattern: culprit.0,
                reason: regex_reason(&culprit.1),
            })
        }
    }
}

fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    // The syntax error message is a multi-line drawing; keep its last line (the explanation).
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .unwrap_or(text)
}

/// Parses `bootstrap.servers`: non-empty items, each `host:port` (an optional `PROTOCOL://`
/// prefix is dropped, as Kafka's address parser skips it).
pub(crate) fn parse_hosts(value: &str) -> Vec<std::result::Result<String, ErrorKind>> {
    parse_list(value)
        .into_iter()
        .filter(|item| !item.is_empty())
        .map(|item| {
            let addr = item.split_once("://").map_or(item.as_str(), |(_, a)| a);
            let valid = addr.rsplit_once(':').is_some_and(|(host, port)| {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._%:".contains(c))
                    && !port.is_empty()
                    && port.chars().all(|c| c.is_ascii_digit())
                    && port.parse::<u16>().is_ok()
            });
            if valid {
                Ok(addr.to_string())
            } else {
                Err(ErrorKind::InvalidBootstrapServer { value: item })
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Assembly: MM2's MirrorMakerConfig, step by step
// ---------------------------------------------------------------------------------------------

/// A setting with its origin and the key that set it in the file.
#[derive(Debug, Clone)]
struct Val {
    value: String,
    origin: Origin,
    file_key: String,
}

type ConnMap = BTreeMap<String, Val>;

fn with_prefix<'a, V>(
    map: &'a BTreeMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a str, &'a V)> + 'a {
    map.range::<str, _>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(move |(k, _)| k.starts_with(prefix))
    .map(move |(k, v)| (&k[prefix.len()..], v))
}

/// `MirrorMakerConfig.clusterProps`.
fn cluster_props(raw: &RawMap, alias: &str) -> ConnMap {
    let prefix = format!("{alias}.");
    let mut props = ConnMap::new();
    for (k, r) in with_prefix(raw, &prefix) {
        props.insert(
            k.to_string(),
            Val {
                value: r.value.clone(),
                origin: Origin::Cluster {
                    alias: alias.to_string(),
                    key: format!("{prefix}{k}"),
                    line: r.line,
                },
                file_key: format!("{prefix}{k}"),
            },
        );
    }
    let own: Vec<(String, Val)> = props
        .iter()
        .filter(|(k, _)| is_connection_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in own {
        for client in ["producer.", "consumer.", "admin."] {
            props
                .entry(format!("{client}{k}"))
                .or_insert_with(|| v.clone());
        }
    }
    for (k, r) in raw.iter().filter(|(k, _)| is_connection_key(k)) {
        let v = Val {
            value: r.value.clone(),
            origin: Origin::Cluster {
                alias: alias.to_string(),
                key: k.clone(),
                line: r.line,
            },
            file_key: k.clone(),
        };
        for client in ["producer.", "consumer.", "admin."] {
            props
                .entry(format!("{client}{k}"))
                .or_insert_with(|| v.clone());
        }
        props.entry(k.clone()).or_insert(v);
    }
    props
}

fn is_client_prefixed(key: &str) -> bool {
    key.starts_with("consumer") || key.starts_with("producer") || key.starts_with("admin")
}

/// `MirrorMakerConfig.connectorBaseConfig` for `s->t`.
fn connector_config(raw: &RawMap, s: &str, t: &str) -> ConnMap {
    let mut m = ConnMap::new();
    for (k, r) in raw {
        if lint::is_connector_key(k)
            || k.starts_with("config.providers")
            || k.starts_with("replication.policy")
        {
            m.insert(
                k.clone(),
                Val {
                    value: r.value.clone(),
                    origin: Origin::TopLevel { line: r.line },
                    file_key: k.clone(),
                },
            );
        }
    }
    for (alias, side) in [(s, "source"), (t, "target")] {
        for (k, v) in cluster_props(raw, alias) {
            let key = if is_client_prefixed(&k) {
                format!("{side}.{k}")
            } else {
                format!("{side}.cluster.{k}")
            };
            m.insert(key, v);
        }
    }
    for (key, alias) in [("source.cluster.alias", s), ("target.cluster.alias", t)] {
        m.entry(key.to_string()).or_insert_with(|| Val {
            value: alias.to_string(),
            origin: Origin::Implied,
            file_key: String::new(),
        });
    }
    let prefix = format!("{s}->{t}.");
    for (k, r) in with_prefix(raw, &prefix) {
        m.insert(
            k.to_string(),
            Val {
                value: r.value.clone(),
                origin: Origin::Flow { line: r.line },
                file_key: format!("{prefix}{k}"),
            },
        );
    }
    m.entry("enabled".to_string()).or_insert_with(|| Val {
        value: "false".to_string(),
        origin: Origin::Implied,
        file_key: String::new(),
    });
    m
}

/// Connector keys that look like client prefixes but are not client settings.
fn is_connector_not_client(full_key: &str) -> bool {
    lint::is_connector_key(full_key)
        || full_key.starts_with("producer.override.")
        || full_key.starts_with("consumer.override.")
        || full_key.starts_with("admin.override.")
}

/// `MirrorConnectorConfig.{source,target}{Consumer,Admin,Producer}Config`: connection keys of the
/// cluster, then the generic client prefix, then the side-specific one.
fn client_map(m: &ConnMap, side: &str, client: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in with_prefix(m, &format!("{side}.cluster.")) {
        if is_connection_key(k) {
            out.insert(k.to_string(), v.value.clone());
        }
    }
    let generic = format!("{client}.");
    for (k, v) in with_prefix(m, &generic) {
        if !is_connector_not_client(&format!("{generic}{k}")) {
            out.insert(k.to_string(), v.value.clone());
        }
    }
    for (k, v) in with_prefix(m, &format!("{side}.{client}.")) {
        out.insert(k.to_string(), v.value.clone());
    }
    if client == "consumer" {
        out.insert("enable.auto.commit".to_string(), "false".to_string());
        out.entry("auto.offset.reset".to_string())
            .or_insert_with(|| "earliest".to_string());
    }
    out
}

/// The producer of the Connect worker for target `t`, with the flow's `producer.override.*`.
fn data_producer_map(raw: &RawMap, m: &ConnMap, t: &str) -> BTreeMap<String, String> {
    let props = cluster_props(raw, t);
    let mut out = BTreeMap::new();
    if let Some(v) = props.get("bootstrap.servers") {
        out.insert("bootstrap.servers".to_string(), v.value.clone());
    }
    for (k, v) in with_prefix(&props, "producer.") {
        out.insert(k.to_string(), v.value.clone());
    }
    for (k, v) in with_prefix(m, "producer.override.") {
        out.insert(k.to_string(), v.value.clone());
    }
    out
}

fn build_cluster(raw: &RawMap, alias: &str) -> ClusterConfig {
    let prefix = format!("{alias}.");
    let mut props: BTreeMap<String, String> = with_prefix(raw, &prefix)
        .map(|(k, r)| (k.to_string(), r.value.clone()))
        .collect();
    for (k, r) in raw.iter().filter(|(k, _)| is_connection_key(k)) {
        props.entry(k.clone()).or_insert_with(|| r.value.clone());
    }
    let bootstrap_servers = props
        .get("bootstrap.servers")
        .map(|v| {
            parse_hosts(lint::recover_value(v))
                .into_iter()
                .filter_map(|h| h.ok())
                .collect()
        })
        .unwrap_or_default();
    ClusterConfig {
        alias: alias.to_string(),
        bootstrap_servers,
        props,
    }
}

/// Typed reads from a connector map; bad values were already reported by lint, so they fall back
/// to the default here (the result is an error anyway).
struct Reader<'a> {
    m: &'a ConnMap,
    settings: BTreeMap<String, (String, Origin)>,
}

impl Reader<'_> {
    fn raw(&mut self, key: &str, default: &str) -> String {
        match self.m.get(key) {
            Some(v) => v.value.clone(),
            None => {
                self.settings
                    .insert(key.to_string(), (default.to_string(), Origin::Default));
                default.to_string()
            }
        }
    }

    fn value(&mut self, key: &str, default: &str) -> String {
        lint::recover_value(&self.raw(key, default)).to_string()
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        parse_bool(&self.value(key, if default { "true" } else { "false" })).unwrap_or(default)
    }

    fn number(&mut self, key: &str, default: i64, ty: Ty) -> i64 {
        let v = self.value(key, &default.to_string());
        if check_value(ty, &v).is_err() {
            return default;
        }
        parse_number(&v, "").unwrap_or(default)
    }

    fn seconds(&mut self, key: &str, default: u64) -> Duration {
        let n = self.number(key, i64::try_from(default).unwrap_or(i64::MAX), Ty::Seconds);
        Duration::from_secs(u64::try_from(n).unwrap_or(default))
    }

    fn short(&mut self, key: &str, default: i16) -> i16 {
        let n = self.number(key, i64::from(default), Ty::ReplicationFactor);
        i16::try_from(n).unwrap_or(default)
    }

    fn list(&mut self, key: &str, default: &str) -> Vec<String> {
        let items = parse_list(&self.value(key, default));
        if check_regexes(&items).is_err() {
            return parse_list(default);
        }
        items
    }

    /// A list with a deprecated alias (`ConfigUtils.translateDeprecatedConfigs`).
    fn list_with_alias(&mut self, key: &str, alias: &str, default: &str) -> Vec<String> {
        if !self.m.contains_key(key)
            && let Some(v) = self.m.get(alias)
        {
            let items = parse_list(lint::recover_value(&v.value));
            self.settings
                .insert(key.to_string(), (v.value.clone(), v.origin.clone()));
            if check_regexes(&items).is_ok() {
                return items;
            }
            return parse_list(default);
        }
        self.list(key, default)
    }
}

fn build_flow(raw: &RawMap, s: &str, t: &str, c: &mut Collector) -> Option<FlowConfig> {
    // MirrorMakerConfig.clusterPairs: which herders exist.
    let flow_key = |k: &str| format!("{s}->{t}.{k}");
    let lenient = |key: &str| raw.get(key).map(|r| java_parse_boolean(&r.value));
    let global_hb = lenient("emit.heartbeats.enabled").unwrap_or(true);
    let pair_hb = lenient(&flow_key("emit.heartbeats.enabled")).unwrap_or(global_hb);
    let pair_enabled = lenient(&flow_key("enabled")).unwrap_or(false);
    for key in [
        "emit.heartbeats.enabled".to_string(),
        flow_key("emit.heartbeats.enabled"),
        flow_key("enabled"),
    ] {
        if let Some(r) = raw.get(&key)
            && parse_bool(&r.value).is_ok_and(|strict| strict != java_parse_boolean(&r.value))
        {
            c.warn(
                Some(r.line),
                &key,
                WarningKind::Ineffective {
                    reason: format!(
                        "MM2 decides which flows exist with Boolean.parseBoolean, which reads \"{}\" (with its whitespace) as false, while the connectors read it as true; remove the whitespace",
                        c.shown(&key, &r.value)
                    ),
                },
            );
        }
    }
    if !(pair_enabled || pair_hb) {
        return None;
    }

    let m = connector_config(raw, s, t);
    let mut settings: BTreeMap<String, (String, Origin)> = m
        .iter()
        .map(|(k, v)| (k.clone(), (v.value.clone(), v.origin.clone())))
        .collect();

    // Deprecated aliases (Kafka 2.7–3.9 accept them; 4.0 removed them).
    for (old, new) in lint::DEPRECATED_ALIASES {
        if let Some(v) = m.get(*old) {
            let kind = if m.contains_key(*new) {
                WarningKind::DeprecatedShadowed { replacement: new }
            } else {
                WarningKind::Deprecated { replacement: new }
            };
            c.warn(v.origin.line(), &v.file_key, kind);
        }
    }

    let mut r = Reader {
        m: &m,
        settings: BTreeMap::new(),
    };
    // The connectors' own `enabled` (flow-level, else top-level, else false); the herder
    // exists (checked above) because of `S->T.enabled` or heartbeats.
    let enabled = r.bool("enabled", false);
    let class = policy_kind(&r.value("replication.policy.class", DEFAULT_REPLICATION_POLICY_CLASS))
        .unwrap_or(PolicyKind::Default);
    let separator_raw = m
        .get("replication.policy.separator")
        .map(|v| v.value.clone());
    let separator = match &separator_raw {
        Some(v) if check_separator(lint::recover_value(v)).is_ok() => {
            lint::recover_value(v).to_string()
        }
        Some(_) => DEFAULT_SEPARATOR.to_string(),
        None => {
            r.settings.insert(
                "replication.policy.separator".to_string(),
                (DEFAULT_SEPARATOR.to_string(), Origin::Default),
            );
            DEFAULT_SEPARATOR.to_string()
        }
    };
    let internal_flag = r.bool(
        "replication.policy.internal.topic.separator.enabled",
        DEFAULT_INTERNAL_TOPIC_SEPARATOR_ENABLED,
    );
    let internal_topic_separator_enabled = if separator_raw.is_some() {
        internal_flag
    } else {
        DEFAULT_INTERNAL_TOPIC_SEPARATOR_ENABLED
    };
    let location = match r.value("offset-syncs.topic.location", "source").as_str() {
        "target" => OffsetSyncsTopicLocation::Target,
        _ => OffsetSyncsTopicLocation::Source,
    };
    let use_defaults_from = match java_trim(&r.value("use.defaults.from", "target")) {
        "source" => UseDefaultsFrom::Source,
        _ => UseDefaultsFrom::Target,
    };
    let tasks_max = r.number("tasks.max", i64::from(DEFAULT_TASKS_MAX), Ty::AtLeastOne);
    let admin_timeout_ms = r.number(
        "admin.timeout.ms",
        i64::try_from(DEFAULT_ADMIN_TIMEOUT_MS).unwrap_or(i64::MAX),
        Ty::Millis,
    );

    let mut flow = FlowConfig {
        source: s.to_string(),
        target: t.to_string(),
        enabled,
        topics: r.list("topics", DEFAULT_TOPICS),
        topics_exclude: r.list_with_alias(
            "topics.exclude",
            "topics.blacklist",
            DEFAULT_TOPICS_EXCLUDE,
        ),
        groups: r.list("groups", DEFAULT_GROUPS),
        groups_exclude: r.list_with_alias(
            "groups.exclude",
            "groups.blacklist",
            DEFAULT_GROUPS_EXCLUDE,
        ),
        config_properties_exclude: r.list_with_alias(
            "config.properties.exclude",
            "config.properties.blacklist",
            DEFAULT_CONFIG_PROPERTIES_EXCLUDE,
        ),
        replication_policy: PolicyConfig {
            class,
            separator,
            internal_topic_separator_enabled,
        },
        replication_factor: {
            let n = r.number(
                "replication.factor",
                i64::from(DEFAULT_REPLICATION_FACTOR),
                Ty::ReplicationFactor,
            );
            i16::try_from(n).unwrap_or(DEFAULT_REPLICATION_FACTOR)
        },
        refresh_topics_enabled: r.bool("refresh.topics.enabled", true),
        refresh_topics_interval: r.seconds(
            "refresh.topics.interval.seconds",
            DEFAULT_REFRESH_TOPICS_INTERVAL_SECONDS,
        ),
        refresh_groups_enabled: r.bool("refresh.groups.enabled", true),
        refresh_groups_interval: r.seconds(
            "refresh.groups.interval.seconds",
            DEFAULT_REFRESH_GROUPS_INTERVAL_SECONDS,
        ),
        emit_heartbeats_enabled: r.bool("emit.heartbeats.enabled", true),
        emit_heartbeats_interval: r.seconds(
            "emit.heartbeats.interval.seconds",
            DEFAULT_EMIT_HEARTBEATS_INTERVAL_SECONDS,
        ),
        emit_checkpoints_enabled: r.bool("emit.checkpoints.enabled", true),
        emit_checkpoints_interval: r.seconds(
            "emit.checkpoints.interval.seconds",
            DEFAULT_EMIT_CHECKPOINTS_INTERVAL_SECONDS,
        ),
        sync_group_offsets_enabled: r.bool(
            "sync.group.offsets.enabled",
            DEFAULT_SYNC_GROUP_OFFSETS_ENABLED,
        ),
        sync_group_offsets_interval: r.seconds(
            "sync.group.offsets.interval.seconds",
            DEFAULT_SYNC_GROUP_OFFSETS_INTERVAL_SECONDS,
        ),
        sync_topic_configs_enabled: r.bool("sync.topic.configs.enabled", true),
        sync_topic_configs_interval: r.seconds(
            "sync.topic.configs.interval.seconds",
            DEFAULT_SYNC_TOPIC_CONFIGS_INTERVAL_SECONDS,
        ),
        sync_topic_acls_enabled: r.bool("sync.topic.acls.enabled", true),
        sync_topic_acls_interval: r.seconds(
            "sync.topic.acls.interval.seconds",
            DEFAULT_SYNC_TOPIC_ACLS_INTERVAL_SECONDS,
        ),
        emit_offset_syncs_enabled: r.bool("emit.offset-syncs.enabled", true),
        offset_syncs_topic_location: location,
        offset_lag_max: r.number("offset.lag.max", DEFAULT_OFFSET_LAG_MAX, Ty::Long),
        heartbeats_replication_enabled: r.bool("heartbeats.replication.enabled", true),
        use_defaults_from,
        admin_timeout: Duration::from_millis(
            u64::try_from(admin_timeout_ms).unwrap_or(DEFAULT_ADMIN_TIMEOUT_MS),
        ),
        heartbeats_topic_replication_factor: r.short(
            "heartbeats.topic.replication.factor",
            DEFAULT_INTERNAL_TOPIC_REPLICATION_FACTOR,
        ),
        checkpoints_topic_replication_factor: r.short(
            "checkpoints.topic.replication.factor",
            DEFAULT_INTERNAL_TOPIC_REPLICATION_FACTOR,
        ),
        offset_syncs_topic_replication_factor: r.short(
            "offset-syncs.topic.replication.factor",
            DEFAULT_INTERNAL_TOPIC_REPLICATION_FACTOR,
        ),
        tasks_max: u32::try_from(tasks_max).unwrap_or(DEFAULT_TASKS_MAX),
        source_consumer: client_map(&m, "source", "consumer"),
        target_consumer: client_map(&m, "target", "consumer"),
        target_producer: data_producer_map(raw, &m, t),
        offset_syncs_producer: match location {
            OffsetSyncsTopicLocation::Source => client_map(&m, "source", "producer"),
            OffsetSyncsTopicLocation::Target => client_map(&m, "target", "producer"),
        },
        source_admin: client_map(&m, "source", "admin"),
        target_admin: client_map(&m, "target", "admin"),
        settings: BTreeMap::new(),
    };
    settings.extend(r.settings);
    flow.settings = settings;
    Some(flow)
}

/// Checks that need the whole picture: bootstrap servers of the clusters in use, top-level
/// `enabled`, features that depend on each other, aliases containing the separator.
fn cross_checks(
    raw: &RawMap,
    entries: &[Entry],
    clusters: &[ClusterConfig],
    flows: &mut Vec<FlowConfig>,
    c: &mut Collector,
) {
    let has_servers = |alias: &str| {
        clusters
            .iter()
            .find(|cl| cl.alias == alias)
            .is_some_and(|cl| cl.props.contains_key("bootstrap.servers"))
    };
    // Enabled flows need both clusters.
    for cl in clusters {
        if cl.props.contains_key("bootstrap.servers") {
            continue;
        }
        let used: Vec<String> = flows
            .iter()
            .filter(|f| f.enabled && (f.source == cl.alias || f.target == cl.alias))
            .map(FlowConfig::name)
            .collect();
        if used.is_empty() {
            continue;
        }
        // A near miss such as `Us-east.bootstrap.servers` (never another listed alias).
        let hint = entries
            .iter()
            .filter_map(|e| {
                let alias = e.key.strip_suffix(".bootstrap.servers")?;
                let listed = clusters.iter().any(|other| other.alias == alias);
                let near = alias.eq_ignore_ascii_case(&cl.alias) || lint::is_near(alias, &cl.alias);
                (!listed && near).then(|| format!("line {} sets \"{}\"", e.line, e.key))
            })
            .next();
        c.error(
            None,
            &format!("{}.bootstrap.servers", cl.alias),
            ErrorKind::MissingBootstrapServers {
                alias: cl.alias.clone(),
                flows: used,
                hint,
            },
        );
    }
    // Heartbeat-only flows need the target.
    flows.retain(|f| {
        if f.enabled || has_servers(&f.target) {
            return true;
        }
        c.warn(
            None,
            &format!("{}.bootstrap.servers", f.target),
            WarningKind::HeartbeatsSkipped { flow: f.name() },
        );
        false
    });

    if let Some(r) = raw.get("enabled")
        && parse_bool(lint::recover_value(&r.value)).unwrap_or(false)
    {
        c.warn(
            Some(r.line),
            "enabled",
            WarningKind::TopLevelEnabled {
                flows: flows.iter().filter(|f| f.enabled).count(),
            },
        );
    }
    if !flows.iter().any(|f| f.enabled) {
        let line = raw.get("clusters").map(|r| r.line);
        c.warn(line, "clusters", WarningKind::NoEnabledFlows);
    }
    let aliases: Vec<&str> = clusters.iter().map(|cl| cl.alias.as_str()).collect();
    super::clients::role_checks(raw, &aliases, flows, c);

    for f in flows.iter().filter(|f| f.enabled) {
        let origin_of = |key: &str| -> (Option<usize>, String) {
            match f.settings.get(key) {
                Some((_, o)) => match o {
                    Origin::Flow { line } => (Some(*line), format!("{}.{key}", f.name())),
                    Origin::TopLevel { line } => (Some(*line), key.to_string()),
                    other => (other.line(), key.to_string()),
                },
                None => (None, key.to_string()),
            }
        };
        if f.sync_group_offsets_enabled && !f.emit_checkpoints_enabled {
            let (line, key) = origin_of("sync.group.offsets.enabled");
            c.warn(
                line,
                &key,
                WarningKind::Ineffective {
                    reason: format!(
                        "flow {}: group offsets are synced from checkpoints, and emit.checkpoints.enabled is false, so nothing is synced",
                        f.name()
                    ),
                },
            );
        }
        if (f.emit_checkpoints_enabled || f.sync_group_offsets_enabled)
            && !f.emit_offset_syncs_enabled
        {
            let (line, key) = origin_of("emit.offset-syncs.enabled");
            c.warn(
                line,
                &key,
                WarningKind::Ineffective {
                    reason: format!(
                        "flow {}: checkpoints are translated through offset syncs; with emit.offset-syncs.enabled=false MM2 refuses to run the checkpoint connector",
                        f.name()
                    ),
                },
            );
        }
        if f.replication_policy.class == PolicyKind::Default
            && !f.replication_policy.separator.is_empty()
            && f.source.contains(f.replication_policy.separator.as_str())
        {
            c.warn(
                raw.get("clusters").map(|r| r.line),
                "clusters",
                WarningKind::AliasContainsSeparator {
                    alias: f.source.clone(),
                    separator: f.replication_policy.separator.clone(),
                },
            );
        }
        for key in ["topics", "groups"] {
            let list = if key == "topics" {
                &f.topics
            } else {
                &f.groups
            };
            if list.is_empty() {
                let (line, file_key) = origin_of(key);
                c.warn(
                    line,
                    &file_key,
                    WarningKind::Ineffective {
                        reason: format!(
                            "empty list: flow {} replicates no {}",
                            f.name(),
                            if key == "topics" {
                                "topics"
                            } else {
                                "consumer group offsets"
                            }
                        ),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: [&str; 15] = [
        include_str!("../../testdata/config/seed_example_1.properties"),
        include_str!("../../testdata/config/seed_example_2.properties"),
        include_str!("../../testdata/config/seed_example_3.properties"),
        include_str!("../../testdata/config/seed_example_4.properties"),
        include_str!("../../testdata/config/seed_example_5.properties"),
        include_str!("../../testdata/config/seed_example_6.properties"),
        include_str!("../../testdata/config/seed_example_7.properties"),
        include_str!("../../testdata/config/seed_example_8.properties"),
        include_str!("../../testdata/config/seed_example_9.properties"),
        include_str!("../../testdata/config/seed_example_10.properties"),
        include_str!("../../testdata/config/seed_example_11.properties"),
        include_str!("../../testdata/config/seed_example_12.properties"),
        include_str!("../../testdata/config/seed_example_13.properties"),
        include_str!("../../testdata/config/seed_example_14.properties"),
        include_str!("../../testdata/config/seed_example_15.properties"),
    ];

    /// Two clusters and an enabled flow, for tests that add a few lines.
    const BASE: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    fn seed(n: usize) -> Result<Mm2Config> {
        parse_str(SEEDS[n - 1], &format!("seed_example_{n}.properties"))
    }

    fn ok(text: &str) -> Mm2Config {
        match parse_str(text, "t.properties") {
            Ok(cfg) => cfg,
            Err(e) => panic!("expected a valid config, got:\n{e}"),
        }
    }

    fn err(r: Result<Mm2Config>) -> ConfigErrors {
        match r {
            Ok(cfg) => panic!("expected errors, got {cfg:#?}"),
            Err(e) => e,
        }
    }

    fn bad(text: &str) -> ConfigErrors {
        err(parse_str(text, "t.properties"))
    }

    /// `(line, key)` of every error, in order.
    fn where_(e: &ConfigErrors) -> Vec<(Option<usize>, &str)> {
        e.errors.iter().map(|x| (x.line, x.key.as_str())).collect()
    }

    fn kinds(e: &ConfigErrors) -> Vec<&ErrorKind> {
        e.errors.iter().map(|x| &x.kind).collect()
    }

    fn warning_kinds(w: &[Diagnostic]) -> Vec<&WarningKind> {
        w.iter().map(|x| &x.kind).collect()
    }

    fn has_warning(
        w: &[Diagnostic],
        line: Option<usize>,
        pred: impl Fn(&WarningKind) -> bool,
    ) -> bool {
        w.iter().any(|d| d.line == line && pred(&d.kind))
    }

    fn flow<'a>(cfg: &'a Mm2Config, s: &str, t: &str) -> &'a FlowConfig {
        match cfg.flow(s, t) {
            Some(f) => f,
            None => panic!("no flow {s}->{t}"),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn missing_clusters(inferred: &[&str]) -> ErrorKind {
        ErrorKind::MissingClusters {
            inferred: strings(inferred),
        }
    }

    fn unknown_key(s: &str) -> ErrorKind {
        ErrorKind::UnknownKey {
            suggestion: Some(s.to_string()),
        }
    }

    // --- the seed document's examples, one test per block -----------------------------------

    #[test]
    fn seed_enable_typo_is_error_suggesting_enabled() {
        let e = err(seed(1));
        assert_eq!(where_(&e), vec![(Some(7), "primary->secondary.enable")]);
        assert_eq!(kinds(&e), vec![&unknown_key("enabled")]);
        assert_eq!(
            e.errors[0].to_string(),
            "seed_example_1.properties:7: primary->secondary.enable: unknown key; did you mean \"enabled\"?"
        );
        // The flow stays disabled, exactly as MM2 would leave it.
        assert!(has_warning(&e.warnings, Some(2), |k| *k == WarningKind::NoEnabledFlows));
    }

    #[test]
    fn seed_dotted_alias_is_error_naming_near_alias() {
        let e = err(seed(2));
        assert_eq!(
            where_(&e),
            vec![
                (Some(2), "clusters"),
                (Some(6), "topics"),
                (Some(9), "us-west->us-east.enable"),
                (Some(10), "us-west->us.east.topics"),
                (Some(10), "us-west->us.east.topics"),
            ]
        );
        assert_eq!(
            e.errors[3].kind,
            ErrorKind::UnknownAlias {
                alias: "us.east".into(),
                suggestion: Some("us-east".into()),
                known: strings(&["us-west", "us-east"]),
            }
        );
        assert_eq!(e.errors[2].kind, unknown_key("enabled"));
        assert!(matches!(e.errors[4].kind, ErrorKind::InlineComment { .. }));
    }

    #[test]
    fn seed_inline_comment_on_typed_value_is_error() {
        let e = err(seed(2));
        let ErrorKind::InlineComment {
            comment,
            consequence,
        } = &e.errors[0].kind
        else {
            panic!("{:?}", e.errors[0]);
        };
        assert_eq!(comment, "# defines cluster aliases");
        assert!(
            consequence.contains("\"us-east   # defines cluster aliases\""),
            "{consequence}"
        );
        assert!(e.errors[1].to_string().contains(".*   # all topics"));
        // Active/passive example: `primary->secondary.topics = foo.*  # only replicate ...`.
        let e = err(seed(12));
        assert_eq!(
            kinds(&e),
            vec![
                &missing_clusters(&["primary", "secondary"]),
                &ErrorKind::InlineComment {
                    comment: "# only replicate some topics".into(),
                    consequence: "the last pattern would be \"foo.*  # only replicate some topics\", which only matches names containing the comment text".into(),
                },
            ]
        );
        assert_eq!(e.errors[1].line, Some(8));
    }

    #[test]
    fn seed_fragment_without_clusters_suggests_aliases() {
        let cases: [(usize, &[&str]); 6] = [
            (3, &[]),
            (4, &["us-west"]),
            (5, &["us-west", "us-east"]),
            (9, &["us-east"]),
            (10, &["us-west", "us-east"]),
            (11, &["A", "B"]),
        ];
        for (n, inferred) in cases {
            let e = err(seed(n));
            assert_eq!(kinds(&e), vec![&missing_clusters(inferred)], "example {n}");
            assert_eq!(where_(&e), vec![(None, "clusters")], "example {n}");
        }
        let e = err(seed(5));
        assert_eq!(
            e.errors[0].to_string(),
            "seed_example_5.properties: clusters: missing required key; MM2 refuses to start without it; add `clusters = us-west, us-east`"
        );
        // The seed's admin client addresses mean nothing to kmirror: one warning each, naming
        // the key kmirror reads instead.
        let admin: Vec<(Option<usize>, &str)> = e
            .warnings
            .iter()
            .map(|w| (w.line, w.key.as_str()))
            .collect();
        assert_eq!(
            admin,
            vec![
                (Some(3), "us-west.admin.bootstrap.servers"),
                (Some(8), "us-east.admin.bootstrap.servers")
            ]
        );
        assert!(
            e.warnings[0]
                .to_string()
                .contains("from us-west.bootstrap.servers"),
            "{}",
            e.warnings[0]
        );
    }

    #[test]
    fn seed_example_3_tasks_max_warns_that_semantics_differ() {
        let e = err(seed(3));
        assert!(has_warning(&e.warnings, Some(2), |k| matches!(
            k,
            WarningKind::UnusedByKmirror { reason } if reason.contains("tasks")
        )));
    }

    #[test]
    fn seed_example_4_connect_offset_topic_is_unused_by_kmirror() {
        let e = err(seed(4));
        assert_eq!(e.warnings.len(), 1);
        assert_eq!(e.warnings[0].key, "us-west.offset.storage.topic");
        assert!(matches!(
            e.warnings[0].kind,
            WarningKind::UnusedByKmirror { .. }
        ));
    }

    #[test]
    fn seed_example_5_client_overrides_reach_the_right_clients() {
        let text = format!(
            "clusters = us-west, us-east\nus-west.bootstrap.servers = w:9092\nus-east.bootstrap.servers = e:9092\nus-west->us-east.enabled = true\n{}",
            SEEDS[4]
        );
        let cfg = ok(&text);
        let f = flow(&cfg, "us-west", "us-east");
        assert_eq!(f.source_consumer["isolation.level"], "read_committed");
        assert_eq!(f.source_consumer["bootstrap.servers"], "w:9092");
        assert_eq!(f.source_admin["bootstrap.servers"], "broker57-primary:9092");
        assert_eq!(
            f.target_admin["bootstrap.servers"],
            "broker8-secondary:9092"
        );
        assert_eq!(f.target_producer["compression.type"], "gzip");
        assert_eq!(f.target_producer["buffer.memory"], "32768");
        assert_eq!(f.target_producer["bootstrap.servers"], "e:9092");
        assert!(!f.source_consumer.contains_key("compression.type"));
    }

    #[test]
    fn seed_example_6_clusters_without_flows_only_heartbeat() {
        let cfg = match seed(6) {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            cfg.clusters[0].bootstrap_servers,
            strings(&["broker10-primary:9092", "broker-11-primary:9092"])
        );
        assert_eq!(
            cfg.clusters[1].bootstrap_servers,
            strings(&["broker5-secondary:9092", "broker6-secondary:9092"])
        );
        let names: Vec<(String, bool, bool)> = cfg
            .flows
            .iter()
            .map(|f| (f.name(), f.enabled, f.emit_heartbeats_enabled))
            .collect();
        assert_eq!(
            names,
            vec![
                ("primary->secondary".to_string(), false, true),
                ("secondary->primary".to_string(), false, true),
            ]
        );
        assert_eq!(cfg.enabled_flows().count(), 0);
        assert_eq!(
            warning_kinds(&cfg.warnings),
            vec![&WarningKind::NoEnabledFlows]
        );
    }

    #[test]
    fn seed_example_7_enable_typo_without_clusters() {
        let e = err(seed(7));
        assert_eq!(
            kinds(&e),
            vec![
                &missing_clusters(&["primary", "secondary"]),
                &unknown_key("enabled")
            ]
        );
        assert_eq!(e.errors[1].line, Some(2));
    }

    #[test]
    fn seed_emit_heartbeats_without_enabled_suffix_is_error() {
        let e = err(seed(8));
        assert_eq!(
            where_(&e),
            vec![
                (None, "clusters"),
                (Some(6), "us-west->us-east.enable"),
                (Some(11), "us-west->us-east.emit.heartbeats"),
            ]
        );
        assert_eq!(e.errors[2].kind, unknown_key("emit.heartbeats.enabled"));
    }

    #[test]
    fn seed_example_8_fixed_applies_flow_over_top_level() {
        let fixed = SEEDS[7]
            .replace(".enable =", ".enabled =")
            .replace("emit.heartbeats =", "emit.heartbeats.enabled =");
        let cfg = ok(&format!(
            "clusters = us-west, us-east\nus-west.bootstrap.servers = w:9092\nus-east.bootstrap.servers = e:9092\n{fixed}"
        ));
        let f = flow(&cfg, "us-west", "us-east");
        assert!(f.enabled);
        assert_eq!(f.topics, strings(&["foo.*"]));
        assert_eq!(f.groups, strings(&["bar.*"]));
        assert!(!f.emit_heartbeats_enabled);
        let back = flow(&cfg, "us-east", "us-west");
        assert!(!back.enabled);
        assert_eq!(
            back.groups,
            strings(&["consumer-group1", "consumer-group2"])
        );
        assert_eq!(
            f.settings["topics"],
            ("foo.*".to_string(), Origin::Flow { line: 12 })
        );
        assert_eq!(
            back.settings["topics"],
            (".*".to_string(), Origin::TopLevel { line: 5 })
        );
    }

    #[test]
    fn seed_example_9_java_keystores_warn_and_tls_reaches_every_client() {
        let e = err(seed(9));
        let keys: Vec<&str> = e.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "us-east.ssl.truststore.location",
                "us-east.ssl.keystore.location"
            ]
        );
        assert!(
            e.warnings
                .iter()
                .all(|w| matches!(w.kind, WarningKind::UnsupportedByKmirror { .. }))
        );
        let cfg = ok(&format!(
            "clusters = us-west, us-east\nus-west.bootstrap.servers = w:9092\nus-east.bootstrap.servers = e:9092\nus-west->us-east.enabled = true\n{}",
            SEEDS[8]
        ));
        let f = flow(&cfg, "us-west", "us-east");
        for client in [&f.target_producer, &f.target_admin, &f.target_consumer] {
            assert_eq!(client["security.protocol"], "SSL");
            assert_eq!(client["ssl.truststore.location"], "/path/to/truststore.jks");
            assert_eq!(client["ssl.key.password"], "my-secret-password");
        }
        assert!(!f.source_consumer.contains_key("security.protocol"));
        assert_eq!(f.offset_syncs_producer.get("security.protocol"), None);
    }

    #[test]
    fn seed_example_10_separator_applies_to_its_flow_only() {
        let cfg = ok(&format!(
            "clusters = us-west, us-east\nus-west.bootstrap.servers = w:9092\nus-east.bootstrap.servers = e:9092\nus-west->us-east.enabled = true\nus-east->us-west.enabled = true\n{}",
            SEEDS[9]
        ));
        assert_eq!(
            flow(&cfg, "us-west", "us-east")
                .replication_policy
                .separator,
            "_"
        );
        assert_eq!(
            flow(&cfg, "us-east", "us-west")
                .replication_policy
                .separator,
            "."
        );
    }

    #[test]
    fn seed_example_11_duplicate_keys_warn_and_last_wins() {
        let e = err(seed(11));
        let dups: Vec<(Option<usize>, &str, &WarningKind)> = e
            .warnings
            .iter()
            .map(|w| (w.line, w.key.as_str(), &w.kind))
            .collect();
        assert_eq!(
            dups,
            vec![
                (
                    Some(6),
                    "A->B.enabled",
                    &WarningKind::DuplicateKey { first_line: 2 }
                ),
                (
                    Some(7),
                    "A->B.topics",
                    &WarningKind::DuplicateKey { first_line: 3 }
                ),
            ]
        );
        let cfg = ok(&format!(
            "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n{}",
            SEEDS[10]
        ));
        assert_eq!(flow(&cfg, "A", "B").topics, strings(&["bar"]));
    }

    #[test]
    fn seed_alias_case_mismatch_is_error() {
        let e = err(seed(13));
        assert_eq!(
            where_(&e),
            vec![
                (None, "us-east.bootstrap.servers"),
                (Some(4), "Us-east.bootstrap.servers"),
            ]
        );
        assert_eq!(
            e.errors[0].kind,
            ErrorKind::MissingBootstrapServers {
                alias: "us-east".into(),
                flows: strings(&["us-west->us-east", "us-east->us-west"]),
                hint: Some("line 4 sets \"Us-east.bootstrap.servers\"".into()),
            }
        );
        assert_eq!(
            e.errors[1].to_string(),
            "seed_example_13.properties:4: Us-east.bootstrap.servers: cluster aliases are case-sensitive: \"Us-east\" is not \"us-east\"; did you mean \"us-east\"?"
        );
    }

    #[test]
    fn seed_example_14_placeholder_bootstrap_servers_are_errors() {
        let e = err(seed(14));
        assert_eq!(e.errors.len(), 6);
        for (i, x) in e.errors.iter().enumerate() {
            assert_eq!(x.line, Some(i + 3));
            assert_eq!(
                x.kind,
                ErrorKind::InvalidBootstrapServer {
                    value: "...".into()
                }
            );
        }
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }

    #[test]
    fn seed_example_14_with_real_servers_has_twelve_enabled_flows() {
        let cfg = ok(&SEEDS[13].replace("= ...", "= host:9092"));
        let enabled: Vec<String> = cfg.enabled_flows().map(FlowConfig::name).collect();
        assert_eq!(
            enabled,
            strings(&[
                "west-1->west-2",
                "west-1->east-1",
                "west-1->north-1",
                "west-2->west-1",
                "east-1->west-1",
                "east-1->east-2",
                "east-1->north-1",
                "east-2->east-1",
                "north-1->west-1",
                "north-1->east-1",
                "north-1->north-2",
                "north-2->north-1",
            ])
        );
        // Every ordered pair has a herder for heartbeats (6 * 5).
        assert_eq!(cfg.flows.len(), 30);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn seed_example_15_metric_listing_is_not_a_config() {
        let entries = properties::parse(SEEDS[14]);
        assert_eq!(entries.len(), 14);
        assert_eq!(entries[0].key, "record-count");
        assert_eq!(
            entries[0].value,
            "# number of records replicated source -> target"
        );
        let e = err(seed(15));
        assert_eq!(kinds(&e), vec![&missing_clusters(&[])]);
        let unknown = e
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::UnknownKey)
            .count();
        let comments = e
            .warnings
            .iter()
            .filter(|w| matches!(w.kind, WarningKind::InlineComment { .. }))
            .count();
        assert_eq!((unknown, comments), (14, 5));
    }

    #[test]
    fn every_seed_example_parses_without_panicking() {
        for n in 1..=SEEDS.len() {
            let _ = seed(n);
        }
    }

    // --- precedence ---------------------------------------------------------------------------

    #[test]
    fn flow_key_overrides_top_level_which_overrides_default() {
        let cfg = ok(&format!(
            "{BASE}B->A.enabled = true\ntopics = t.*\nA->B.topics = x, y\n"
        ));
        assert_eq!(flow(&cfg, "A", "B").topics, strings(&["x", "y"]));
        assert_eq!(flow(&cfg, "B", "A").topics, strings(&["t.*"]));
        let cfg = ok(BASE);
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.topics, strings(&[".*"]));
        assert_eq!(f.settings["topics"], (".*".to_string(), Origin::Default));
        assert_eq!(
            f.settings["enabled"],
            ("true".to_string(), Origin::Flow { line: 4 })
        );
        assert_eq!(
            f.settings["source.cluster.bootstrap.servers"],
            (
                "a:9092".to_string(),
                Origin::Cluster {
                    alias: "A".into(),
                    key: "A.bootstrap.servers".into(),
                    line: 2
                }
            )
        );
    }

    #[test]
    fn source_consumer_precedence_follows_mm2() {
        let three = format!(
            "{BASE}A->B.consumer.fetch.min.bytes = 1\nA.consumer.fetch.min.bytes = 2\nA->B.source.consumer.fetch.min.bytes = 3\n"
        );
        assert_eq!(
            flow(&ok(&three), "A", "B").source_consumer["fetch.min.bytes"],
            "3"
        );
        let two = three.replace("A->B.source.consumer.fetch.min.bytes = 3\n", "");
        assert_eq!(
            flow(&ok(&two), "A", "B").source_consumer["fetch.min.bytes"],
            "2"
        );
        let one = two.replace("A.consumer.fetch.min.bytes = 2\n", "");
        assert_eq!(
            flow(&ok(&one), "A", "B").source_consumer["fetch.min.bytes"],
            "1"
        );
    }

    #[test]
    fn top_level_client_settings_are_ignored_with_warning() {
        let cfg = ok(&format!("{BASE}consumer.fetch.min.bytes = 9\n"));
        assert!(
            !flow(&cfg, "A", "B")
                .source_consumer
                .contains_key("fetch.min.bytes")
        );
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::IgnoredByMm2 { .. }
        )));
    }

    #[test]
    fn top_level_connection_keys_are_every_clusters_fallback() {
        let cfg = ok(
            "clusters = A, B\nbootstrap.servers = shared:9092\nsecurity.protocol = SASL_SSL\nB.security.protocol = SSL\nA->B.enabled = true\n",
        );
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.source_consumer["bootstrap.servers"], "shared:9092");
        assert_eq!(f.source_consumer["security.protocol"], "SASL_SSL");
        assert_eq!(f.target_producer["security.protocol"], "SSL");
        assert_eq!(f.target_admin["security.protocol"], "SSL");
        assert_eq!(cfg.clusters[0].bootstrap_servers, strings(&["shared:9092"]));
    }

    #[test]
    fn cluster_level_connection_keys_reach_all_clients_and_client_prefix_wins() {
        let cfg = ok(&format!(
            "{BASE}A.sasl.mechanism = PLAIN\nA.admin.sasl.mechanism = SCRAM-SHA-512\n"
        ));
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.source_consumer["sasl.mechanism"], "PLAIN");
        assert_eq!(f.source_admin["sasl.mechanism"], "SCRAM-SHA-512");
        assert!(!f.target_admin.contains_key("sasl.mechanism"));
    }

    #[test]
    fn data_producer_reads_target_producer_and_flow_override() {
        let cfg = ok(&format!(
            "{BASE}B.producer.compression.type = gzip\nA->B.producer.override.linger.ms = 5\nA->B.producer.acks = 1\n"
        ));
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.target_producer["compression.type"], "gzip");
        assert_eq!(f.target_producer["linger.ms"], "5");
        assert!(!f.target_producer.contains_key("acks"));
        assert_eq!(f.offset_syncs_producer["acks"], "1");
        assert!(!f.offset_syncs_producer.contains_key("override.linger.ms"));
        assert!(has_warning(&cfg.warnings, Some(7), |k| matches!(
            k,
            WarningKind::Ineffective { reason } if reason.contains("offset-syncs producer")
        )));
    }

    #[test]
    fn offset_syncs_producer_follows_the_topic_location() {
        let text = format!("{BASE}A.producer.linger.ms = 1\nB.producer.linger.ms = 2\n");
        let f = ok(&text).flows.remove(0);
        assert_eq!(
            f.offset_syncs_topic_location,
            OffsetSyncsTopicLocation::Source
        );
        assert_eq!(f.offset_syncs_producer["bootstrap.servers"], "a:9092");
        assert_eq!(f.offset_syncs_producer["linger.ms"], "1");
        let cfg = ok(&format!("{text}offset-syncs.topic.location = target\n"));
        let f = flow(&cfg, "A", "B");
        assert_eq!(
            f.offset_syncs_topic_location,
            OffsetSyncsTopicLocation::Target
        );
        assert_eq!(f.offset_syncs_producer["bootstrap.servers"], "b:9092");
        assert_eq!(f.offset_syncs_producer["linger.ms"], "2");
    }

    #[test]
    fn source_consumer_forces_auto_commit_off_and_defaults_to_earliest() {
        let f = ok(BASE).flows.remove(0);
        assert_eq!(f.source_consumer["enable.auto.commit"], "false");
        assert_eq!(f.source_consumer["auto.offset.reset"], "earliest");
        let cfg = ok(&format!(
            "{BASE}A.consumer.enable.auto.commit = true\nA.consumer.auto.offset.reset = latest\n"
        ));
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.source_consumer["enable.auto.commit"], "false");
        assert_eq!(f.source_consumer["auto.offset.reset"], "latest");
        // `consumer.poll.timeout.ms` is a connector key, not a consumer setting.
        let cfg = ok(&format!("{BASE}A->B.consumer.poll.timeout.ms = 5\n"));
        assert!(
            !flow(&cfg, "A", "B")
                .source_consumer
                .contains_key("poll.timeout.ms")
        );
    }

    #[test]
    fn defaults_are_mm2s() {
        let f = ok(BASE).flows.remove(0);
        assert!(f.enabled);
        assert_eq!(
            f.topics_exclude,
            strings(&[r".*[\-\.]internal", r".*\.replica", "__.*"])
        );
        assert_eq!(f.groups, strings(&[".*"]));
        assert_eq!(
            f.groups_exclude,
            strings(&["console-consumer-.*", "connect-.*", "__.*"])
        );
        assert_eq!(f.config_properties_exclude.len(), 6);
        assert_eq!(f.replication_policy.class, PolicyKind::Default);
        assert_eq!(f.replication_policy.separator, ".");
        assert!(f.replication_policy.internal_topic_separator_enabled);
        assert_eq!(f.replication_factor, 2);
        assert_eq!(f.refresh_topics_interval, Duration::from_secs(600));
        assert_eq!(f.refresh_groups_interval, Duration::from_secs(600));
        assert_eq!(f.sync_topic_configs_interval, Duration::from_secs(600));
        assert_eq!(f.sync_topic_acls_interval, Duration::from_secs(600));
        assert_eq!(f.emit_heartbeats_interval, Duration::from_secs(1));
        assert_eq!(f.emit_checkpoints_interval, Duration::from_secs(60));
        assert_eq!(f.sync_group_offsets_interval, Duration::from_secs(60));
        assert!(f.refresh_topics_enabled && f.refresh_groups_enabled);
        assert!(f.sync_topic_configs_enabled && f.sync_topic_acls_enabled);
        assert!(f.emit_heartbeats_enabled && f.emit_checkpoints_enabled);
        assert!(!f.sync_group_offsets_enabled);
        assert!(f.emit_offset_syncs_enabled && f.heartbeats_replication_enabled);
        assert_eq!(f.offset_lag_max, 100);
        assert_eq!(f.heartbeats_topic_replication_factor, 3);
        assert_eq!(f.checkpoints_topic_replication_factor, 3);
        assert_eq!(f.offset_syncs_topic_replication_factor, 3);
        assert_eq!(f.tasks_max, 1);
        assert_eq!(f.admin_timeout, Duration::from_secs(60));
        assert_eq!(f.use_defaults_from, UseDefaultsFrom::Target);
    }

    #[test]
    fn typed_values_are_parsed() {
        let cfg = ok(&format!(
            "{BASE}A->B.refresh.topics.interval.seconds = 30\nA->B.sync.group.offsets.enabled = TRUE\nA->B.replication.factor = -1\nA->B.offset.lag.max = 7\nA->B.replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\nA->B.tasks.max = 4\nA->B.use.defaults.from = source\nheartbeats.topic.replication.factor = 1\n"
        ));
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.refresh_topics_interval, Duration::from_secs(30));
        assert!(f.sync_group_offsets_enabled);
        assert_eq!(f.replication_factor, -1);
        assert_eq!(f.offset_lag_max, 7);
        assert_eq!(f.replication_policy.class, PolicyKind::Identity);
        assert_eq!(f.tasks_max, 4);
        assert_eq!(f.use_defaults_from, UseDefaultsFrom::Source);
        assert_eq!(f.heartbeats_topic_replication_factor, 1);
    }

    // --- flows ----------------------------------------------------------------------------

    #[test]
    fn clusters_list_tolerates_spaces_around_commas() {
        let cfg = ok(
            "clusters=A ,B,  C\nA.bootstrap.servers=a:1\nB.bootstrap.servers=b:1\nC.bootstrap.servers=c:1\nA->C.enabled=true\n",
        );
        let aliases: Vec<&str> = cfg.clusters.iter().map(|c| c.alias.as_str()).collect();
        assert_eq!(aliases, vec!["A", "B", "C"]);
        assert_eq!(
            cfg.enabled_flows()
                .map(FlowConfig::name)
                .collect::<Vec<_>>(),
            vec!["A->C"]
        );
    }

    #[test]
    fn heartbeats_off_removes_disabled_pairs() {
        let cfg = ok(&format!("{BASE}emit.heartbeats.enabled = false\n"));
        let names: Vec<String> = cfg.flows.iter().map(FlowConfig::name).collect();
        assert_eq!(names, vec!["A->B"]);
        assert!(!cfg.flows[0].emit_heartbeats_enabled);
    }

    #[test]
    fn top_level_enabled_enables_every_pair_with_warning() {
        let cfg = ok(
            "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nenabled = true\n",
        );
        assert_eq!(cfg.enabled_flows().count(), 2);
        assert!(has_warning(&cfg.warnings, Some(4), |k| *k
            == WarningKind::TopLevelEnabled { flows: 2 }));
    }

    #[test]
    fn trailing_space_after_true_hides_the_flow_when_heartbeats_are_off() {
        let cfg = match parse_str(
            "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nemit.heartbeats.enabled = false\nA->B.enabled = true \n",
            "t",
        ) {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        assert!(cfg.flows.is_empty());
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::Ineffective { reason } if reason.contains("parseBoolean")
        )));
    }

    #[test]
    fn missing_bootstrap_is_error_only_for_clusters_in_enabled_flows() {
        let cfg = ok(&format!(
            "{}C.bootstrap.servers = c:1\n",
            BASE.replace("A, B", "A, B, C, D")
        ));
        // D has no servers: heartbeat-only flows into D are skipped with a warning.
        assert!(cfg.flows.iter().all(|f| f.target != "D"));
        assert!(cfg.flows.iter().any(|f| f.source == "D" && !f.enabled));
        assert!(has_warning(&cfg.warnings, None, |k| matches!(
            k,
            WarningKind::HeartbeatsSkipped { flow } if flow == "A->D"
        )));
        let e = bad(&format!(
            "{}A->D.enabled = true\n",
            BASE.replace("A, B", "A, B, D")
        ));
        assert_eq!(where_(&e), vec![(None, "D.bootstrap.servers")]);
    }

    #[test]
    fn flow_naming_undefined_alias_is_error() {
        let e = bad(&format!("{BASE}A->Z.enabled = true\n"));
        assert_eq!(
            kinds(&e),
            vec![&ErrorKind::UnknownAlias {
                alias: "Z".into(),
                suggestion: None,
                known: strings(&["A", "B"]),
            }]
        );
        assert_eq!(
            e.errors[0].to_string(),
            "t.properties:5: A->Z.enabled: unknown cluster alias \"Z\" (clusters lists: A, B)"
        );
    }

    #[test]
    fn cluster_key_for_far_unlisted_alias_is_only_a_warning() {
        let cfg = ok(&format!("{BASE}retired-dc.bootstrap.servers = old:9092\n"));
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k
            == WarningKind::UnlistedCluster {
                alias: "retired-dc".into()
            }));
    }

    #[test]
    fn self_flow_keys_are_warned_and_ignored() {
        let cfg = ok(&format!("{BASE}A->A.enabled = true\n"));
        assert!(cfg.flow("A", "A").is_none());
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k == WarningKind::SelfFlow));
    }

    // --- value errors ---------------------------------------------------------------------

    #[test]
    fn all_errors_are_collected_not_just_the_first() {
        let e = bad(&format!(
            "{BASE}A->B.topics = foo[\nA->B.emit.checkpoints.interval.seconds = 1m\nA->B.sync.topic.acls.enabled = yes\nreplication.policy.class = com.example.MyPolicy\nA->B.replication.factor = 0\noffset-syncs.topic.location = Source\n"
        ));
        assert_eq!(
            where_(&e),
            vec![
                (Some(5), "A->B.topics"),
                (Some(6), "A->B.emit.checkpoints.interval.seconds"),
                (Some(7), "A->B.sync.topic.acls.enabled"),
                (Some(8), "replication.policy.class"),
                (Some(9), "A->B.replication.factor"),
                (Some(10), "offset-syncs.topic.location"),
            ]
        );
        assert!(
            matches!(&e.errors[0].kind, ErrorKind::InvalidRegex { pattern, .. } if pattern == "foo[")
        );
        assert_eq!(
            e.errors[1].kind,
            ErrorKind::InvalidNumber {
                value: "1m".into(),
                expected: "a whole number of seconds"
            }
        );
        assert_eq!(
            e.errors[2].kind,
            ErrorKind::InvalidBoolean {
                value: "yes".into()
            }
        );
        assert!(matches!(
            &e.errors[3].kind,
            ErrorKind::UnknownPolicyClass {
                suggestion: None,
                ..
            }
        ));
        assert!(matches!(&e.errors[4].kind, ErrorKind::OutOfRange { .. }));
        assert!(matches!(&e.errors[5].kind, ErrorKind::InvalidChoice { .. }));
    }

    #[test]
    fn zero_or_negative_interval_is_error() {
        for v in ["0", "-5"] {
            let e = bad(&format!("{BASE}emit.heartbeats.interval.seconds = {v}\n"));
            assert!(
                matches!(e.errors[0].kind, ErrorKind::OutOfRange { .. }),
                "{v}"
            );
        }
    }

    #[test]
    fn policy_class_simple_name_suggests_fully_qualified_name() {
        let e = bad(&format!(
            "{BASE}replication.policy.class = IdentityReplicationPolicy\n"
        ));
        assert_eq!(
            e.errors[0].kind,
            ErrorKind::UnknownPolicyClass {
                class: "IdentityReplicationPolicy".into(),
                suggestion: Some(IDENTITY_REPLICATION_POLICY_CLASS.into()),
            }
        );
    }

    #[test]
    fn custom_topic_filter_class_is_error() {
        let e = bad(&format!("{BASE}topic.filter.class = com.example.Filter\n"));
        assert!(matches!(
            e.errors[0].kind,
            ErrorKind::UnsupportedClass { .. }
        ));
        ok(&format!(
            "{BASE}topic.filter.class = {DEFAULT_TOPIC_FILTER_CLASS}\n"
        ));
    }

    #[test]
    fn separator_with_trailing_whitespace_is_error() {
        let e = bad(&format!("{BASE}replication.policy.separator = _ \n"));
        assert!(matches!(
            e.errors[0].kind,
            ErrorKind::InvalidSeparator { .. }
        ));
    }

    #[test]
    fn internal_separator_flag_is_read_only_with_a_separator_key() {
        let f = ok(&format!(
            "{BASE}replication.policy.internal.topic.separator.enabled = false\n"
        ))
        .flows
        .remove(0);
        assert!(f.replication_policy.internal_topic_separator_enabled);
        let f = ok(&format!(
            "{BASE}replication.policy.separator = _\nreplication.policy.internal.topic.separator.enabled = false\n"
        ))
        .flows
        .remove(0);
        assert!(!f.replication_policy.internal_topic_separator_enabled);
    }

    #[test]
    fn regex_items_are_joined_like_mm2() {
        // Java compiles `(a|b)` from the items "(a" and "b)"; so does kmirror.
        let f = ok(&format!("{BASE}topics = (a, b)\n")).flows.remove(0);
        assert_eq!(f.topics, strings(&["(a", "b)"]));
        let f = ok(&format!("{BASE}topics.exclude = \n")).flows.remove(0);
        assert!(f.topics_exclude.is_empty());
    }

    #[test]
    fn empty_topics_list_warns_that_nothing_is_replicated() {
        let cfg = ok(&format!("{BASE}topics =\n"));
        assert!(flow(&cfg, "A", "B").topics.is_empty());
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::Ineffective { reason } if reason.contains("replicates no topics")
        )));
    }

    #[test]
    fn deprecated_blacklist_names_are_used_with_warning() {
        let cfg = ok(&format!("{BASE}topics.blacklist = secret.*\n"));
        assert_eq!(flow(&cfg, "A", "B").topics_exclude, strings(&["secret.*"]));
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k
            == WarningKind::Deprecated {
                replacement: "topics.exclude"
            }));
        let cfg = ok(&format!(
            "{BASE}topics.blacklist = secret.*\ntopics.exclude = x\n"
        ));
        assert_eq!(flow(&cfg, "A", "B").topics_exclude, strings(&["x"]));
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::DeprecatedShadowed { .. }
        )));
    }

    // --- warnings -------------------------------------------------------------------------

    #[test]
    fn connect_only_keys_warn_but_do_not_fail() {
        let cfg = ok(&format!(
            "{BASE}config.storage.replication.factor = 1\noffset.storage.replication.factor = 1\nstatus.storage.replication.factor = 1\nkey.converter = org.apache.kafka.connect.json.JsonConverter\nvalue.converter = org.apache.kafka.connect.json.JsonConverter\nB.offset.flush.timeout.ms = 10000\noffset.flush.timeout.ms = 10000\n"
        ));
        for line in 5..=10 {
            assert!(
                has_warning(&cfg.warnings, Some(line), |k| matches!(
                    k,
                    WarningKind::UnusedByKmirror { .. }
                )),
                "line {line}: {:?}",
                cfg.warnings
            );
        }
        assert!(has_warning(&cfg.warnings, Some(11), |k| matches!(
            k,
            WarningKind::IgnoredByMm2 { .. }
        )));
    }

    #[test]
    fn bad_values_of_keys_kmirror_ignores_are_only_warnings() {
        let cfg = ok(&format!(
            "{BASE}B.offset.flush.timeout.ms = soon\nkey.converter = x # json\n"
        ));
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::InvalidIgnoredValue { problem } if problem.contains("\"soon\"")
        )));
        assert!(has_warning(&cfg.warnings, Some(6), |k| matches!(
            k,
            WarningKind::InlineComment { .. }
        )));
        // tasks.max is kept in FlowConfig, so a bad value is an error.
        let e = bad(&format!("{BASE}tasks.max = 0\n"));
        assert_eq!(where_(&e), vec![(Some(5), "tasks.max")]);
    }

    // --- config providers and secrets ------------------------------------------------------

    const FILE_PROVIDER: &str = "config.providers = file\nconfig.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n";

    /// A fixed environment for `${env:...}` (the crate forbids `unsafe`, so tests cannot call
    /// `std::env::set_var`).
    fn fake_env(name: &str) -> Option<String> {
        match name {
            "KMIRROR_TEST_PASSWORD" => Some("env-secret-1".to_string()),
            "KMIRROR_TEST_MECHANISM" => Some("GSSAPI".to_string()),
            "OTHER_VAR" => Some("other".to_string()),
            _ => None,
        }
    }

    fn parse_env(text: &str) -> Result<Mm2Config> {
        parse_with_env(text, "t.properties", false, &fake_env)
    }

    /// Writes `name` with `contents` in a fresh temporary directory.
    fn secrets_file(name: &str, contents: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write secrets file");
        (dir, path.display().to_string())
    }

    /// Every rendered error and warning, for "the secret is never printed" checks.
    fn all_text(e: &ConfigErrors) -> String {
        let mut out = e.to_string();
        for w in &e.warnings {
            out.push('\n');
            out.push_str(&w.to_string());
        }
        out
    }

    #[test]
    fn file_provider_expands_references_in_every_scope() {
        let (_dir, path) = secrets_file(
            "secrets.properties",
            "# secrets\njaas.password = file-secret-1\ntruststore.password: file-secret-2\ntopics = orders, payments\nservers = a1:9092,a2:9092\n",
        );
        let cfg = ok(&format!(
            "clusters = A, B\nA.bootstrap.servers = ${{file:{path}:servers}}\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n{FILE_PROVIDER}\
             A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"${{file:{path}:jaas.password}}\";\n\
             B.producer.ssl.truststore.password = ${{file:{path}:truststore.password}}\n\
             A->B.topics = ${{file:{path}:topics}}\n"
        ));
        let f = flow(&cfg, "A", "B");
        assert_eq!(
            f.source_consumer["sasl.jaas.config"],
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"file-secret-1\";"
        );
        assert_eq!(
            f.target_producer["ssl.truststore.password"],
            "file-secret-2"
        );
        assert_eq!(f.topics, strings(&["orders", "payments"]));
        assert_eq!(
            cfg.cluster("A").expect("A").bootstrap_servers,
            strings(&["a1:9092", "a2:9092"])
        );
        assert_eq!(f.source_consumer["bootstrap.servers"], "a1:9092,a2:9092");
        // Supported providers earn no warning any more.
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert!(cfg.is_provided(2) && cfg.is_provided(7) && !cfg.is_provided(3));
    }

    #[test]
    fn values_without_references_are_untouched() {
        let cfg = ok(&format!(
            "{BASE}{FILE_PROVIDER}B.producer.client.id = ${{nothing}} $ {{x}} $${{}}\n"
        ));
        assert_eq!(
            flow(&cfg, "A", "B").target_producer["client.id"],
            "${nothing} $ {x} $${}"
        );
        assert!(!cfg.is_provided(7));
    }

    #[test]
    fn custom_provider_names_work_and_others_are_undeclared() {
        let (_dir, path) = secrets_file("s.properties", "pw = custom-secret\n");
        let text = format!(
            "{BASE}config.providers = secrets\nconfig.providers.secrets.class = FileConfigProvider\nB.ssl.key.password = ${{secrets:{path}:pw}}\n"
        );
        let cfg = ok(&text);
        assert_eq!(
            flow(&cfg, "A", "B").target_admin["ssl.key.password"],
            "custom-secret"
        );
        let e = bad(&format!("{text}A.ssl.key.password = ${{file:{path}:pw}}\n"));
        assert_eq!(where_(&e), vec![(Some(8), "A.ssl.key.password")]);
        assert_eq!(
            e.errors[0].to_string(),
            format!(
                "t.properties:8: A.ssl.key.password: cannot resolve \"${{file:{path}:pw}}\": config provider \"file\" is not declared (config.providers lists secrets); MM2 would use the text literally"
            )
        );
        assert!(!all_text(&e).contains("custom-secret"));
    }

    #[test]
    fn env_provider_reads_variables_and_honours_the_allowlist() {
        let env_provider = "config.providers = env\nconfig.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n";
        let cfg = parse_env(&format!(
            "{BASE}{env_provider}A.sasl.jaas.config = x password=\"${{env:KMIRROR_TEST_PASSWORD}}\";\n"
        ))
        .expect("valid");
        assert_eq!(
            flow(&cfg, "A", "B").source_admin["sasl.jaas.config"],
            "x password=\"env-secret-1\";"
        );
        let e = err(parse_env(&format!(
            "{BASE}{env_provider}config.providers.env.param.allowlist.pattern = ^KMIRROR_\n\
             A.ssl.key.password = ${{env:KMIRROR_TEST_PASSWORD}}\n\
             B.ssl.key.password = ${{env:OTHER_VAR}}\n\
             B.ssl.keystore.password = ${{env:KMIRROR_UNSET_VARIABLE}}\n\
             A.ssl.keystore.password = ${{env:/etc:KMIRROR_TEST_PASSWORD}}\n"
        )));
        assert_eq!(
            e.errors.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            vec![
                "t.properties:9: B.ssl.key.password: cannot resolve \"${env:OTHER_VAR}\": environment variable OTHER_VAR does not match config.providers.env.param.allowlist.pattern \"^KMIRROR_\"",
                "t.properties:10: B.ssl.keystore.password: cannot resolve \"${env:KMIRROR_UNSET_VARIABLE}\": environment variable KMIRROR_UNSET_VARIABLE is not set",
                "t.properties:11: A.ssl.keystore.password: cannot resolve \"${env:/etc:KMIRROR_TEST_PASSWORD}\": EnvVarConfigProvider takes no path (got \"/etc\"); write ${env:VARIABLE}",
            ]
        );
        assert!(!all_text(&e).contains("env-secret-1"));
        assert!(!all_text(&e).contains("other"));
    }

    #[test]
    fn env_provider_reads_the_process_environment() {
        // Any variable this process already has: the crate forbids `unsafe`, so no set_var.
        let Some((name, value)) = std::env::vars().find(|(k, v)| {
            !v.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !v.contains(['}', '\n', '\r', '\\', '#'])
                && v.is_ascii()
                && v.trim() == v
        }) else {
            return;
        };
        let cfg = ok(&format!(
            "{BASE}config.providers = e\nconfig.providers.e.class = EnvVarConfigProvider\nB.producer.client.id = ${{e:{name}}}\n"
        ));
        assert_eq!(flow(&cfg, "A", "B").target_producer["client.id"], value);
    }

    #[test]
    fn directory_provider_reads_whole_files() {
        let (dir, _) = secrets_file("key-password", "dir-secret\n");
        let d = dir.path().display().to_string();
        let text = format!(
            "{BASE}config.providers = dir\nconfig.providers.dir.class = org.apache.kafka.common.config.provider.DirectoryConfigProvider\nconfig.providers.dir.param.allowed.paths = {d}\nB.ssl.key.password = ${{dir:{d}:key-password}}\n"
        );
        let cfg = ok(&text);
        // Kafka keeps the file's trailing newline.
        assert_eq!(
            flow(&cfg, "A", "B").target_admin["ssl.key.password"],
            "dir-secret\n"
        );
        let e = bad(&format!(
            "{text}A.ssl.key.password = ${{dir:{d}:nope}}\nA.ssl.keystore.password = ${{dir:/etc:passwd}}\nB.ssl.keystore.password = ${{dir:{d}/../x:key-password}}\n"
        ));
        assert_eq!(
            e.errors.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            vec![
                format!("t.properties:9: A.ssl.key.password: cannot resolve \"${{dir:{d}:nope}}\": {d} has no regular file \"nope\""),
                "t.properties:10: A.ssl.keystore.password: cannot resolve \"${dir:/etc:passwd}\": /etc is outside config.providers.dir.param.allowed.paths".to_string(),
                format!("t.properties:11: B.ssl.keystore.password: cannot resolve \"${{dir:{d}/../x:key-password}}\": {d}/../x is outside config.providers.dir.param.allowed.paths"),
            ]
        );
        assert!(!all_text(&e).contains("dir-secret"));
    }

    #[test]
    fn unresolved_references_name_file_line_key_and_never_the_secret() {
        let (dir, path) = secrets_file("secrets.properties", "present = file-secret-9\n");
        let missing = dir.path().join("missing.properties").display().to_string();
        let e = bad(&format!(
            "{BASE}{FILE_PROVIDER}A.ssl.key.password = ${{file:{path}:absent}}\n\
             B.sasl.jaas.config = a ${{file:{path}:present}} b ${{file:{missing}:pw}}\n\
             A.ssl.keystore.password = ${{file:pw}}\n"
        ));
        assert_eq!(
            where_(&e),
            vec![
                (Some(7), "A.ssl.key.password"),
                (Some(8), "B.sasl.jaas.config"),
                (Some(9), "A.ssl.keystore.password"),
            ]
        );
        assert_eq!(
            e.errors[0].to_string(),
            format!(
                "t.properties:7: A.ssl.key.password: cannot resolve \"${{file:{path}:absent}}\": {path} has no key \"absent\""
            )
        );
        assert_eq!(
            e.errors[1].to_string(),
            format!(
                "t.properties:8: B.sasl.jaas.config: cannot resolve \"${{file:{missing}:pw}}\": cannot read {missing}: No such file or directory (os error 2)"
            )
        );
        assert_eq!(
            e.errors[2].to_string(),
            "t.properties:9: A.ssl.keystore.password: cannot resolve \"${file:pw}\": FileConfigProvider needs a path: ${file:/path:key}"
        );
        assert!(!all_text(&e).contains("file-secret-9"), "{}", all_text(&e));
    }

    #[test]
    fn a_malformed_secrets_file_is_an_error_without_its_text() {
        let (_dir, path) = secrets_file("s.properties", "a = 1\npw = se\\uZZcret\n");
        let e = bad(&format!(
            "{BASE}{FILE_PROVIDER}A.ssl.key.password = ${{file:{path}:pw}}\n"
        ));
        assert_eq!(
            e.errors[0].to_string(),
            format!(
                "t.properties:7: A.ssl.key.password: cannot resolve \"${{file:{path}:pw}}\": {path}:2: malformed \\uXXXX escape; Java refuses to load the file"
            )
        );
    }

    #[test]
    fn provider_declarations_are_checked() {
        // Unknown class: a warning where it is declared, an error where it is used.
        let text = format!(
            "{BASE}config.providers = vault, nocls\nconfig.providers.vault.class = com.example.VaultConfigProvider\nconfig.providers.vault.param.address = https://vault:8200\nA.ssl.key.password = ${{vault:secret/kafka:pw}}\nB.ssl.key.password = ${{nocls:x:y}}\n"
        );
        let e = bad(&text);
        assert!(has_warning(&e.warnings, Some(6), |k| matches!(
            k,
            WarningKind::UnsupportedByKmirror { reason } if reason.contains("com.example.VaultConfigProvider")
        )));
        assert!(has_warning(&e.warnings, Some(5), |k| matches!(
            k,
            WarningKind::Ineffective { reason } if reason.contains("config.providers.nocls.class")
        )));
        assert_eq!(
            e.errors.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            vec![
                "t.properties:8: A.ssl.key.password: cannot resolve \"${vault:secret/kafka:pw}\": config provider \"vault\" is com.example.VaultConfigProvider, which kmirror cannot run (kmirror implements FileConfigProvider, DirectoryConfigProvider and EnvVarConfigProvider)",
                "t.properties:9: B.ssl.key.password: cannot resolve \"${nocls:x:y}\": config.providers.nocls.class is not set, so MM2 would use the text literally; set it to a provider class",
            ]
        );
        // Declared but unused unknown classes only warn.
        let cfg = ok(&format!(
            "{BASE}config.providers = vault\nconfig.providers.vault.class = com.example.VaultConfigProvider\n"
        ));
        assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
        // Typos, unlisted providers, bad parameters.
        let e = bad(&format!(
            "{BASE}{FILE_PROVIDER}config.providers.file.clas = x\nconfig.providers.other.class = FileConfigProvider\nconfig.providers.file.param.allowed.paths = relative/dir\n"
        ));
        assert_eq!(
            where_(&e),
            vec![
                (Some(7), "config.providers.file.clas"),
                (Some(9), "config.providers.file.param.allowed.paths"),
            ]
        );
        assert_eq!(kinds(&e)[0], &unknown_key("config.providers.file.class"));
        assert!(has_warning(&e.warnings, Some(8), |k| matches!(
            k,
            WarningKind::Ineffective { reason } if reason.contains("does not list \"other\"")
        )));
        let e = bad(&format!(
            "{BASE}config.providers = env\nconfig.providers.env.class = EnvVarConfigProvider\nconfig.providers.env.param.allowlist.pattern = (?<=x)\n"
        ));
        assert_eq!(
            where_(&e),
            vec![(Some(7), "config.providers.env.param.allowlist.pattern")]
        );
    }

    #[test]
    fn config_providers_fixture_reports_every_unresolved_reference() {
        let e = err(parse_with_env(
            include_str!("../../testdata/config/config_providers.properties"),
            "config_providers.properties",
            false,
            &fake_env,
        ));
        assert_eq!(
            where_(&e),
            vec![
                (Some(17), "primary.sasl.jaas.config"),
                (Some(19), "primary.ssl.truststore.password"),
                (Some(20), "backup.sasl.jaas.config"),
                (Some(21), "backup.ssl.key.password"),
                (Some(22), "backup.ssl.keystore.password"),
            ]
        );
        assert!(
            e.errors
                .iter()
                .all(|x| matches!(x.kind, ErrorKind::UnresolvedReference { .. }))
        );
        assert!(has_warning(&e.warnings, Some(13), |k| matches!(
            k,
            WarningKind::UnsupportedByKmirror { .. }
        )));
        assert!(
            !all_text(&e).contains("literal-password"),
            "{}",
            all_text(&e)
        );
    }

    #[test]
    fn undeclared_providers_are_errors_even_without_config_providers() {
        let e = bad(&format!("{BASE}A.ssl.key.password = ${{file:/s:pw}}\n"));
        assert_eq!(
            e.errors[0].to_string(),
            "t.properties:5: A.ssl.key.password: cannot resolve \"${file:/s:pw}\": config provider \"file\" is not declared (add config.providers = file and config.providers.file.class = <provider class>); MM2 would use the text literally"
        );
    }

    #[test]
    fn only_the_winning_duplicate_is_resolved() {
        let (_dir, path) = secrets_file("s.properties", "pw = second\n");
        let cfg = ok(&format!(
            "{BASE}{FILE_PROVIDER}B.ssl.key.password = ${{file:/no/such/file:pw}}\nB.ssl.key.password = ${{file:{path}:pw}}\n"
        ));
        assert_eq!(
            flow(&cfg, "A", "B").target_admin["ssl.key.password"],
            "second"
        );
    }

    #[test]
    fn diagnostics_never_quote_secrets() {
        // A sensitive key: the inline-comment warning hides the text.
        let cfg = ok(&format!("{BASE}A.ssl.key.password = pass #word\n"));
        let text: Vec<String> = cfg.warnings.iter().map(|w| w.to_string()).collect();
        assert!(text.iter().all(|t| !t.contains("#word")), "{text:?}");
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k
            == WarningKind::InlineComment {
                comment: "# [hidden]".into()
            }));
        // A provider value under a non-sensitive key, in errors and warnings.
        let (_dir, path) = secrets_file(
            "s.properties",
            "topics = (unclosed-secret\nflag = yes-secret\nmech = GSSAPI-secret\n",
        );
        let e = err(parse_env(&format!(
            "{BASE}{FILE_PROVIDER}A->B.topics = ${{file:{path}:topics}}\nA->B.emit.checkpoints.enabled = ${{file:{path}:flag}}\nA.sasl.mechanism = ${{file:{path}:mech}}\n"
        )));
        let text = all_text(&e);
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            e.errors[0].to_string(),
            "t.properties:7: A->B.topics: invalid regex \"[hidden]\" (kmirror uses Rust regex syntax: no look-around or back-references): unclosed group"
        );
        assert_eq!(
            e.errors[1].to_string(),
            "t.properties:8: A->B.emit.checkpoints.enabled: invalid boolean \"[hidden]\": expected true or false"
        );
        assert!(text.contains("SASL mechanism [hidden]"), "{text}");
    }

    #[test]
    fn inline_comment_on_free_form_value_is_warning_and_kept() {
        let cfg = ok(&format!("{BASE}B.producer.client.id = mirror # prod\n"));
        let f = flow(&cfg, "A", "B");
        assert_eq!(f.target_producer["client.id"], "mirror # prod");
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k
            == WarningKind::InlineComment {
                comment: "# prod".into()
            }));
    }

    #[test]
    fn inline_comment_on_boolean_is_invalid_value_error() {
        let e = bad(&format!(
            "{BASE}A->B.sync.topic.acls.enabled = false # no ACLs\n"
        ));
        assert_eq!(e.errors.len(), 1);
        assert_eq!(
            e.errors[0].kind,
            ErrorKind::InlineComment {
                comment: "# no ACLs".into(),
                consequence: "\"false # no ACLs\" is not a boolean".into(),
            }
        );
    }

    #[test]
    fn typo_in_flow_key_is_error_and_far_unknown_key_is_warning() {
        let e = bad(&format!(
            "{BASE}A->B.topcis = x\nA->B.sync.group.offset.enabled = true\n"
        ));
        assert_eq!(
            kinds(&e),
            vec![
                &unknown_key("topics"),
                &unknown_key("sync.group.offsets.enabled")
            ]
        );
        let cfg = ok(&format!("{BASE}A->B.my.custom.thing = x\n"));
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k == WarningKind::UnknownKey));
    }

    #[test]
    fn misplaced_keys_say_where_they_belong() {
        let cfg = ok(&format!(
            "{BASE}use.defaults.from = source\nA->B.bootstrap.servers = x:1\nA.topics = x\n"
        ));
        for line in 5..=7 {
            assert!(
                has_warning(&cfg.warnings, Some(line), |k| matches!(
                    k,
                    WarningKind::IgnoredByMm2 { .. }
                )),
                "line {line}"
            );
        }
        assert_eq!(
            flow(&cfg, "A", "B").use_defaults_from,
            UseDefaultsFrom::Target
        );
    }

    #[test]
    fn checkpoint_dependencies_are_warned() {
        let cfg = ok(&format!(
            "{BASE}A->B.sync.group.offsets.enabled = true\nA->B.emit.checkpoints.enabled = false\n"
        ));
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::Ineffective { .. }
        )));
        let cfg = ok(&format!("{BASE}emit.offset-syncs.enabled = false\n"));
        assert!(has_warning(&cfg.warnings, Some(5), |k| matches!(
            k,
            WarningKind::Ineffective { .. }
        )));
    }

    #[test]
    fn alias_containing_the_separator_warns() {
        let cfg = ok(
            "clusters = us.east, B\nus.east.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nus.east->B.enabled = true\n",
        );
        assert_eq!(
            flow(&cfg, "us.east", "B").source_consumer["bootstrap.servers"],
            "a:1"
        );
        assert!(has_warning(&cfg.warnings, Some(1), |k| matches!(
            k,
            WarningKind::AliasContainsSeparator { .. }
        )));
    }

    #[test]
    fn invalid_aliases_in_clusters_are_errors() {
        let e = bad("clusters = A, , B->C\n");
        assert_eq!(e.errors.len(), 2);
        assert!(
            e.errors
                .iter()
                .all(|x| matches!(x.kind, ErrorKind::InvalidAlias { .. }))
        );
        let e = bad("clusters =\n");
        assert_eq!(kinds(&e), vec![&ErrorKind::EmptyClusters]);
    }

    // --- file handling --------------------------------------------------------------------

    #[test]
    fn display_matches_house_style() {
        let text = format!(
            "clusters = us-east, us-west\nus-east.bootstrap.servers = e:1\nus-west.bootstrap.servers = w:1\n{}us-east->us-west.enable = true\n",
            "# filler\n".repeat(10)
        );
        let e = err(parse_str(&text, "connect-mirror-maker.properties"));
        assert_eq!(
            e.to_string(),
            "connect-mirror-maker.properties:14: us-east->us-west.enable: unknown key; did you mean \"enabled\"?"
        );
    }

    #[test]
    fn load_names_the_file_and_reports_io_errors() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/config/seed_example_1.properties");
        let e = err(load(&path));
        assert_eq!(e.errors[0].path, path.display().to_string());
        let e = err(load(Path::new("/nonexistent/kmirror/mm2.properties")));
        assert!(matches!(e.errors[0].kind, ErrorKind::Io { .. }));
        assert!(
            e.errors[0]
                .to_string()
                .starts_with("/nonexistent/kmirror/mm2.properties: cannot read")
        );
    }

    #[test]
    fn latin1_file_is_decoded_like_java() {
        let dir = std::env::temp_dir().join(format!("kmirror-config-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("latin1.properties");
        let mut bytes = BASE.as_bytes().to_vec();
        bytes.extend_from_slice(b"B.producer.client.id = caf\xe9\n");
        if std::fs::write(&path, &bytes).is_err() {
            return;
        }
        let cfg = match load(&path) {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(flow(&cfg, "A", "B").target_producer["client.id"], "café");
        assert!(has_warning(&cfg.warnings, None, |k| *k == WarningKind::Latin1Decoded));
    }

    #[test]
    fn non_ascii_text_warns_because_java_reads_latin1() {
        let cfg = ok(&format!("{BASE}B.producer.client.id = café\n"));
        assert!(has_warning(&cfg.warnings, Some(5), |k| *k == WarningKind::NonAscii));
    }

    #[test]
    fn byte_order_mark_is_error() {
        let e = bad(&format!("\u{feff}{BASE}"));
        assert!(e.errors.iter().any(|x| x.kind == ErrorKind::ByteOrderMark));
    }

    #[test]
    fn malformed_unicode_escape_is_error() {
        let e = bad(&format!("{BASE}A->B.topics = \\u00zz\n"));
        assert!(matches!(
            e.errors[0].kind,
            ErrorKind::MalformedEscape { .. }
        ));
        assert_eq!(e.errors[0].line, Some(5));
    }

    /// Deterministic pseudo-random MM2-ish files (xorshift): parsing never panics.
    #[test]
    fn arbitrary_files_never_panic() {
        const TOKENS: &[&str] = &[
            "clusters",
            "=",
            " = ",
            "A",
            "B",
            "us-east",
            "->",
            ".",
            "enabled",
            "true",
            "false",
            "topics",
            ".*",
            "[",
            ",",
            " ",
            "#",
            "\n",
            "\\",
            "\\u",
            "bootstrap.servers",
            "h:1",
            "consumer.",
            "producer.override.",
            "replication.policy.separator",
            "_",
            ":",
            "9",
            "-1",
            "emit.heartbeats",
            "${file:x:y}",
            "é",
            "\r\n",
            "source.cluster.",
            "Us-east",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..1500 {
            let mut text = String::new();
            for _ in 0..(state % 60) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(TOKENS[(state % TOKENS.len() as u64) as usize]);
            }
            let _ = parse_str(&text, "fuzz");
        }
    }
}
