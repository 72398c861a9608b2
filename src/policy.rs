//! Replication policies (how remote topics are named and traced back) and the topic/group filters,
//! with MirrorMaker 2's rule for which source topics a flow replicates. Pure functions, no I/O.
//!
//! # What lives here
//!
//! * [`ReplicationPolicy`]: MM2's `DefaultReplicationPolicy` (`A.orders` on the target) and
//!   `IdentityReplicationPolicy` (`orders` on the target), method for method, including the Java
//!   `String.split` quirks of `topicSource` and the names of MM2's own internal topics.
//! * [`TopicFilter`] and [`GroupFilter`]: MM2's `DefaultTopicFilter` / `DefaultGroupFilter`
//!   (include list, exclude list, full-match regexes, excludes win).
//! * [`should_replicate_topic`] and [`is_cycle`]: `MirrorSourceConnector.shouldReplicateTopic`.
//!
//! # Why active/active and chains cannot loop
//!
//! With the default policy every hop prepends the alias of the cluster the data came from, so a
//! topic's name lists, newest first, every cluster its records have already been on:
//!
//! ```text
//! A: orders ──A->B──▶ B: A.orders ──B->C──▶ C: B.A.orders ──C->A──▶ A: ✗ (A is in the chain)
//!                        │
//!                        └──B->A──▶ A: ✗ (topicSource("A.orders") = A = target)
//! ```
//!
//! [`is_cycle`] walks that chain (`topicSource`, then `upstreamTopic`, repeatedly) and refuses
//! the topic if any alias in it is the flow's *target*. So:
//!
//! * **Active/active** (`A->B` and `B->A`): `orders` on A becomes `A.orders` on B; the flow
//!   `B->A` sees `topicSource("A.orders") = A`, its own target, and skips it. Only B's local
//!   topics go back to A, as `B.*`.
//! * **Chains and rings** (`A->B->C`, optionally `C->A`): `A.orders` on B is replicated to C as
//!   `B.A.orders` (neither B nor A is C); a flow `C->A` would find `A` further up the chain and
//!   stop. Each hop makes the name one prefix longer and no cluster repeats, so a record crosses at
//!   most `N - 1` flows in an `N`-cluster topology.
//!
//! This only holds if (a) the policy prefixes (the identity policy does not; it cannot detect
//! cycles, MM2 documents this) and (b) every deployment uses the same alias for the same cluster
//! (KAFKA-9914). A *local* topic whose name contains the separator, e.g. `B.orders` created by a
//! user on A, is parsed as coming from B and is never sent to B (mm2-reference §3.2).
//!
//! # References
//!
//! * `/work/shared/spec/mm2-reference.md` §1.1 (internal topic names), §3 (policies, cycle
//!   prevention), §4.1 (filters).
//! * apache/kafka `connect/mirror-client/.../ReplicationPolicy.java`,
//!   `DefaultReplicationPolicy.java`, `IdentityReplicationPolicy.java`;
//!   `connect/mirror/.../DefaultTopicFilter.java`, `DefaultGroupFilter.java`,
//!   `MirrorUtils.compilePatternList`, `MirrorSourceConnector.shouldReplicateTopic` / `isCycle`
//!   (trunk `1eb7644349cb`, 2024-10-25).
//! * KIP-382 (MirrorMaker 2.0), KIP-690 (custom separator for internal topics), KIP-949 /
//!   KAFKA-15102 (`replication.policy.internal.topic.separator.enabled`), KAFKA-17200.

use regex::Regex;

/// Result alias for this module.
pub type Result<T, E = FilterError> = std::result::Result<T, E>;

/// `replication.policy.separator` default (MM2 `DefaultReplicationPolicy.SEPARATOR_DEFAULT`).
pub const DEFAULT_SEPARATOR: &str = ".";

/// `replication.policy.internal.topic.separator.enabled` default (MM2, KIP-949).
pub const DEFAULT_INTERNAL_SEPARATOR_ENABLED: bool = true;

/// The heartbeats topic name (MM2 `ReplicationPolicy.heartbeatsTopic()`; never affected by the
/// separator).
pub const HEARTBEATS_TOPIC: &str = "heartbeats";

/// Fully qualified Java class name of MM2's default policy (`replication.policy.class` default).
pub const DEFAULT_REPLICATION_POLICY_CLASS: &str =
    "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";

/// Fully qualified Java class name of MM2's identity policy (MM2 3.0+).
pub const IDENTITY_REPLICATION_POLICY_CLASS: &str =
    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";

/// `topics` default (MM2 `DefaultTopicFilter.TOPICS_INCLUDE_DEFAULT`), as a raw list value.
pub const DEFAULT_TOPICS: &str = ".*";

/// `topics.exclude` default (MM2 `DefaultTopicFilter.TOPICS_EXCLUDE_DEFAULT`), as a raw list value.
pub const DEFAULT_TOPICS_EXCLUDE: &str = r".*[\-\.]internal, .*\.replica, __.*";

/// `groups` default (MM2 `DefaultGroupFilter.GROUPS_INCLUDE_DEFAULT`), as a raw list value.
pub const DEFAULT_GROUPS: &str = ".*";

/// `groups.exclude` default (MM2 `DefaultGroupFilter.GROUPS_EXCLUDE_DEFAULT`), as a raw list value.
pub const DEFAULT_GROUPS_EXCLUDE: &str = "console-consumer-.*, connect-.*, __.*";

/// How remote topics are named on the target and traced back to their source cluster.
///
/// Method names follow MM2's `ReplicationPolicy` interface; `None` stands for Java's `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// MM2 `DefaultReplicationPolicy`: the remote topic is `<source alias><separator><topic>`.
    Default {
        /// `replication.policy.separator`: joins the source alias and the topic, and is the
        /// literal (not a regex) on which `topic_source` splits.
        separator: String,
        /// `replication.policy.internal.topic.separator.enabled`: when false, the checkpoints and
        /// offset-syncs topic names keep `.` whatever the separator (pre-3.1 names, KIP-949).
        internal_separator_enabled: bool,
    },
    /// MM2 `IdentityReplicationPolicy`: topics keep their name; only heartbeats topics are
    /// prefixed, exactly as the default policy does. It cannot prevent replication cycles.
    Identity {
        /// Used for heartbeats topics and internal-topic names, as in [`ReplicationPolicy::Default`].
        separator: String,
        /// As in [`ReplicationPolicy::Default`].
        internal_separator_enabled: bool,
        /// `source.cluster.alias`: what `topic_source` answers for every non-heartbeats topic.
        /// MM2 connectors always set it to the flow's source alias; a bare `MirrorClient` leaves it
        /// unset (`None`). Set it with [`ReplicationPolicy::with_source_cluster_alias`].
        source_cluster_alias: Option<String>,
    },
}

impl Default for ReplicationPolicy {
    /// MM2's default: `DefaultReplicationPolicy` with separator `.`.
    fn default() -> Self {
        Self::Default {
            separator: DEFAULT_SEPARATOR.to_owned(),
            internal_separator_enabled: DEFAULT_INTERNAL_SEPARATOR_ENABLED,
        }
    }
}

impl ReplicationPolicy {
    /// Builds the policy named by a `replication.policy.class` value, or `None` if it is not one
    /// of MM2's two built-in policies.
    ///
    /// Accepts the fully qualified Java names and the simple names (`DefaultReplicationPolicy`,
    /// `IdentityReplicationPolicy`); surrounding whitespace is ignored, as Connect's `CLASS`
    /// config type trims. An identity policy starts without a `source.cluster.alias`; flows set
    /// it with [`with_source_cluster_alias`](Self::with_source_cluster_alias).
    ///
    /// MM2 only reads the internal-separator flag when `replication.policy.separator` is set;
    /// when the separator is absent it is `.` and the flag makes no difference, so callers can
    /// always pass the resolved flag.
    pub fn from_class(
        class: &str,
        separator: &str,
        internal_separator_enabled: bool,
    ) -> Option<Self> {
        let class = class.trim();
        let simple = class
            .strip_prefix("org.apache.kafka.connect.mirror.")
            .unwrap_or(class);
        match simple {
            "DefaultReplicationPolicy" => Some(Self::Default {
                separator: separator.to_owned(),
                internal_separator_enabled,
            }),
            "IdentityReplicationPolicy" => Some(Self::Identity {
                separator: separator.to_owned(),
                internal_separator_enabled,
                source_cluster_alias: None,
            }),
            _ => None,
        }
    }

    /// An identity policy with the default separator, as MM2 configures it for a flow whose
    /// source alias is `source_cluster_alias` (`None` = as `MirrorClient` sees it).
    pub fn identity(source_cluster_alias: Option<&str>) -> Self {
        Self::Identity {
            separator: DEFAULT_SEPARATOR.to_owned(),
            internal_separator_enabled: DEFAULT_INTERNAL_SEPARATOR_ENABLED,
            source_cluster_alias: source_cluster_alias.map(str::to_owned),
        }
    }

    /// Returns the policy as MM2 configures it inside the connectors of a flow with this source
    /// alias: sets `source.cluster.alias` on an identity policy; the default policy ignores it.
    pub fn with_source_cluster_alias(self, alias: &str) -> Self {
        match self {
            Self::Identity {
                separator,
                internal_separator_enabled,
                ..
            } => Self::Identity {
                separator,
                internal_separator_enabled,
                source_cluster_alias: Some(alias.to_owned()),
            },
            default => default,
        }
    }

    /// `replication.policy.separator`.
    pub fn separator(&self) -> &str {
        match self {
            Self::Default { separator, .. } | Self::Identity { separator, .. } => separator,
        }
    }

    /// The separator used inside checkpoints and offset-syncs topic names: the separator, or `.`
    /// when `replication.policy.internal.topic.separator.enabled` is false.
    fn internal_separator(&self) -> &str {
        match self {
            Self::Default {
                separator,
                internal_separator_enabled,
            }
            | Self::Identity {
                separator,
                internal_separator_enabled,
                ..
            } => {
                if *internal_separator_enabled {
                    separator
                } else {
                    "."
                }
            }
        }
    }

    /// The identity policy's special case: a topic "looks like" a heartbeats topic when its name
    /// merely ends with `heartbeats` (so `myheartbeats` counts too, as in MM2).
    fn looks_like_heartbeat(topic: &str) -> bool {
        topic.ends_with(HEARTBEATS_TOPIC)
    }

    /// Name on the target of `topic` replicated from `source_cluster_alias`
    /// (`formatRemoteTopic`): `A.orders` for the default policy, `orders` for the identity
    /// policy (except heartbeats topics: `A.heartbeats`).
    pub fn format_remote_topic(&self, source_cluster_alias: &str, topic: &str) -> String {
        match self {
            Self::Identity { .. } if !Self::looks_like_heartbeat(topic) => topic.to_owned(),
            _ => format!("{source_cluster_alias}{}{topic}", self.separator()),
        }
    }

    /// Alias of the cluster `topic` was replicated from, or `None` if it is not a remote topic
    /// (`topicSource`).
    ///
    /// Default policy: Java `String.split` on the literal separator, which drops trailing empty
    /// pieces and keeps a leading one; fewer than two pieces means "not remote", otherwise the
    /// first piece is the source: `A.orders` → `A`, `orders` / `orders.` → `None`, `.x` → `""`,
    /// `a..b` → `a`. Identity policy: default parsing for heartbeats topics, otherwise the
    /// configured `source.cluster.alias`.
    pub fn topic_source<'a>(&'a self, topic: &'a str) -> Option<&'a str> {
        match self {
            Self::Identity {
                source_cluster_alias,
                ..
            } if !Self::looks_like_heartbeat(topic) => source_cluster_alias.as_deref(),
            _ => java_split_source(topic, self.separator()),
        }
    }

    /// Name of `topic` on the cluster it was replicated from, or `None` if it is not a remote
    /// topic (`upstreamTopic`): `A.B.orders` → `B.orders`. The identity policy answers `topic`
    /// itself for non-heartbeats topics.
    pub fn upstream_topic<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match self {
            Self::Identity { .. } if !Self::looks_like_heartbeat(topic) => Some(topic),
            _ => {
                let source = java_split_source(topic, self.separator())?;
                // `topic` starts with `source + separator` (the first split piece, then the
                // separator that ended it), so this slice is in bounds and on a char boundary;
                // `get` keeps that from being a panic site anyway.
                topic.get(source.len() + self.separator().len()..)
            }
        }
    }

    /// The topic's name on the cluster where it was first produced, after any number of hops
    /// (`originalTopic`): `A.B.orders` → `orders`; a local topic is returned unchanged.
    pub fn original_topic<'a>(&self, topic: &'a str) -> &'a str {
        let mut current = topic;
        // Terminates: each step either stops or returns a strictly shorter suffix (the default
        // policy removes `source + separator`, which is at least one char when the separator is
        // empty; the identity policy returns the topic itself, which stops the loop).
        while let Some(upstream) = self.upstream_topic(current) {
            if upstream == current {
                break;
            }
            current = upstream;
        }
        current
    }

    /// `heartbeats` (`heartbeatsTopic`; the separator never changes it).
    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS_TOPIC
    }

    /// Offset-syncs topic named after `cluster_alias` (`offsetSyncsTopic`):
    /// `mm2-offset-syncs.B.internal`, with the internal separator in place of both dots.
    pub fn offset_syncs_topic(&self, cluster_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("mm2-offset-syncs{sep}{cluster_alias}{sep}internal")
    }

    /// Checkpoints topic for the flow whose source is `cluster_alias` (`checkpointsTopic`):
    /// `A.checkpoints.internal`, with the internal separator in place of both dots.
    pub fn checkpoints_topic(&self, cluster_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("{cluster_alias}{sep}checkpoints{sep}internal")
    }

    /// True for `heartbeats` and any replica of it (`A.heartbeats`, `C.A.heartbeats`), and also
    /// for a user topic such as `my.heartbeats` (`isHeartbeatsTopic`: the original topic is
    /// `heartbeats`).
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    /// True if `topic` ends with `<isep>checkpoints<isep>internal` (`isCheckpointsTopic`).
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let sep = self.internal_separator();
        topic
            .strip_suffix("internal")
            .and_then(|t| t.strip_suffix(sep))
            .and_then(|t| t.strip_suffix("checkpoints"))
            .is_some_and(|t| t.ends_with(sep))
    }

    /// True if `topic` ends with `<isep>internal` (`isMM2InternalTopic`).
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic
            .strip_suffix("internal")
            .is_some_and(|t| t.ends_with(self.internal_separator()))
    }

    /// True for topics MM2 never replicates whatever the filter says (`isInternalTopic`): MM2's
    /// own topics, Kafka's (`__*`, `.*`), and anything ending in `.internal` or `-internal`
    /// (Connect's defaults).
    ///
    /// This is the rule of the 2024-10 trunk snapshot the spec was written from (and of every
    /// 3.x release). KAFKA-17200 later narrows it so user topics that merely end in
    /// `-internal`/`.internal` become replicable; with MM2's default `topics.exclude` those are
    /// excluded by the filter anyway.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.is_mm2_internal_topic(topic)
            || topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
    }
}

/// First piece of `topic.split(quote(separator))` as Java computes it, if there are at least two
/// pieces after Java drops the trailing empty ones.
fn java_split_source<'a>(topic: &'a str, separator: &str) -> Option<&'a str> {
    if separator.is_empty() {
        // Java splits an empty pattern between every character, with no leading empty piece.
        let mut chars = topic.char_indices();
        let (_, first) = chars.next()?;
        chars.next()?;
        return topic.get(..first.len_utf8());
    }
    // Java yields the pieces between separators, then drops the trailing empty ones. Two or
    // more pieces survive iff some piece after the first is non-empty (no separator at all
    // leaves one piece).
    let mut pieces = topic.split(separator);
    let first = pieces.next()?;
    if pieces.any(|p| !p.is_empty()) {
        Some(first)
    } else {
        None
    }
}

/// MM2's `MirrorSourceConnector.isCycle` for a flow into `target_alias`: true if the alias
/// chain of `topic` (see the module docs) contains the target.
///
/// Stops at a local topic, or where the policy cannot go further upstream (the identity policy's
/// `upstream_topic(t) == t`), which is why the identity policy never reports a cycle for
/// ordinary topics.
pub fn is_cycle(policy: &ReplicationPolicy, target_alias: &str, topic: &str) -> bool {
    let mut current = topic;
    loop {
        match policy.topic_source(current) {
            None => return false,
            Some(source) if source == target_alias => return true,
            Some(_) => match policy.upstream_topic(current) {
                Some(upstream) if upstream != current => current = upstream,
                _ => return false,
            },
        }
    }
}

/// MM2's `MirrorSourceConnector.shouldReplicateTopic` with heartbeats replication enabled (the
/// MM2 default, and the only behaviour before 4.0): `(filter accepts topic || topic is a
/// heartbeats topic) && !internal && !cycle`.
pub fn should_replicate_topic(
    policy: &ReplicationPolicy,
    filter: &TopicFilter,
    target_alias: &str,
    topic: &str,
) -> bool {
    should_replicate_topic_with_heartbeats(policy, filter, target_alias, topic, true)
}

/// [`should_replicate_topic`] with MM2 4.0's `heartbeats.replication.enabled` made explicit:
/// when false, heartbeats topics need the topic filter like any other topic.
pub fn should_replicate_topic_with_heartbeats(
    policy: &ReplicationPolicy,
    filter: &TopicFilter,
    target_alias: &str,
    topic: &str,
    heartbeats_replication_enabled: bool,
) -> bool {
    (filter.should_replicate_topic(topic)
        || (heartbeats_replication_enabled && policy.is_heartbeats_topic(topic)))
        && !policy.is_internal_topic(topic)
        && !is_cycle(policy, target_alias, topic)
}

/// Topics on the target that belong to the flow `source_alias -> target`: remote topics whose
/// source is `source_alias`, except that flow's own checkpoints topic (MM2
/// `MirrorSourceConnector.findTargetTopicPartitions`).
pub fn is_target_topic_of_flow(
    policy: &ReplicationPolicy,
    source_alias: &str,
    topic: &str,
) -> bool {
    policy.topic_source(topic) == Some(source_alias)
        && topic != policy.checkpoints_topic(source_alias)
}

/// Splits a raw MM2 `LIST` config value as Connect's `ConfigDef` does: Java `String.trim()`
/// (drops chars up to U+0020), empty → empty list, otherwise split on `\s*,\s*` keeping empty
/// items (`a,,b` → `a`, ``, `b`).
pub fn parse_list(raw: &str) -> Vec<&str> {
    let raw = raw.trim_matches(|c: char| c <= ' ');
    if raw.is_empty() {
        return Vec::new();
    }
    // Java's `\s`: space, \t, \n, \x0B, \f, \r.
    let java_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r');
    raw.split(',')
        .map(|item| item.trim_matches(java_space))
        .collect()
}

/// A topic or group filter's pattern could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// One item of an include/exclude list is not a valid regex (for the `regex` crate, which
    /// lacks some Java features such as look-around and back-references).
    #[error("{key}: invalid regex `{pattern}`")]
    InvalidPattern {
        /// The MM2 config key the list came from: `topics`, `topics.exclude`, `groups` or
        /// `groups.exclude`.
        key: &'static str,
        /// The offending list item, as written.
        pattern: String,
        /// The regex compiler's explanation.
        #[source]
        source: regex::Error,
    },
}

/// One compiled include-or-exclude list: MM2's `MirrorUtils.compilePatternList`, full-match.
#[derive(Debug, Clone)]
struct PatternList {
    /// `None` for an empty list, which matches nothing (not everything, as an empty regex would).
    regex: Option<Regex>,
}

impl PatternList {
    /// Compiles `items` joined by `|` and anchored at both ends, so a match is Java's
    /// `matcher(..).matches()`. Each item is first compiled alone so the error names it.
    fn new<S: AsRef<str>>(key: &'static str, items: &[S]) -> Result<Self> {
        if items.is_empty() {
            return Ok(Self { regex: None });
        }
        let mut joined = String::from("^(?:");
        for (i, item) in items.iter().enumerate() {
            let item = item.as_ref();
            Regex::new(item).map_err(|source| FilterError::InvalidPattern {
                key,
                pattern: item.to_owned(),
                source,
            })?;
            if i > 0 {
                joined.push('|');
            }
            joined.push_str(item);
        }
        joined.push_str(")$");
        // Items that compile alone can still fail together only through size limits; report
        // the whole list in that case.
        let regex = Regex::new(&joined).map_err(|source| FilterError::InvalidPattern {
            key,
            pattern: items
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            source,
        })?;
        Ok(Self { regex: Some(regex) })
    }

    /// Full match against the whole list; always false for an empty list.
    fn matches(&self, name: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// MM2's `DefaultTopicFilter`: replicate a topic iff it fully matches `topics` and does not
/// fully match `topics.exclude`.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    /// Compiled `topics`.
    include: PatternList,
    /// Compiled `topics.exclude`.
    exclude: PatternList,
}

impl TopicFilter {
    /// Compiles the `topics` and `topics.exclude` lists (items as produced by [`parse_list`]).
    /// An empty include list replicates nothing; an empty exclude list excludes nothing.
    pub fn new<S: AsRef<str>, T: AsRef<str>>(include: &[S], exclude: &[T]) -> Result<Self> {
        Ok(Self {
            include: PatternList::new("topics", include)?,
            exclude: PatternList::new("topics.exclude", exclude)?,
        })
    }

    /// True if MM2's topic filter accepts `topic` (`shouldReplicateTopic`).
    pub fn should_replicate_topic(&self, topic: &str) -> bool {
        self.include.matches(topic) && !self.exclude.matches(topic)
    }
}

impl Default for TopicFilter {
    /// `topics = .*`, `topics.exclude = .*[\-\.]internal, .*\.replica, __.*`.
    fn default() -> Self {
        Self::new(
            &parse_list(DEFAULT_TOPICS),
            &parse_list(DEFAULT_TOPICS_EXCLUDE),
        )
        .expect("MM2's default topic patterns are constants that compile")
    }
}

/// MM2's `DefaultGroupFilter`: checkpoint a consumer group iff it fully matches `groups` and
/// does not fully match `groups.exclude`.
#[derive(Debug, Clone)]
pub struct GroupFilter {
    /// Compiled `groups`.
    include: PatternList,
    /// Compiled `groups.exclude`.
    exclude: PatternList,
}

impl GroupFilter {
    /// Compiles the `groups` and `groups.exclude` lists (items as produced by [`parse_list`]).
    /// An empty include list accepts nothing; an empty exclude list excludes nothing.
    pub fn new<S: AsRef<str>, T: AsRef<str>>(include: &[S], exclude: &[T]) -> Result<Self> {
        Ok(Self {
            include: PatternList::new("groups", include)?,
            exclude: PatternList::new("groups.exclude", exclude)?,
        })
    }

    /// True if MM2's group filter accepts `group` (`shouldReplicateGroup`).
    pub fn should_replicate_group(&self, group: &str) -> bool {
        self.include.matches(group) && !self.exclude.matches(group)
    }
}

impl Default for GroupFilter {
    /// `groups = .*`, `groups.exclude = console-consumer-.*, connect-.*, __.*`.
    fn default() -> Self {
        Self::new(
            &parse_list(DEFAULT_GROUPS),
            &parse_list(DEFAULT_GROUPS_EXCLUDE),
        )
        .expect("MM2's default group patterns are constants that compile")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> ReplicationPolicy {
        ReplicationPolicy::default()
    }

    fn custom(separator: &str, internal_separator_enabled: bool) -> ReplicationPolicy {
        ReplicationPolicy::from_class(
            DEFAULT_REPLICATION_POLICY_CLASS,
            separator,
            internal_separator_enabled,
        )
        .unwrap()
    }

    fn replicates(policy: &ReplicationPolicy, target: &str, topic: &str) -> bool {
        should_replicate_topic(policy, &TopicFilter::default(), target, topic)
    }

    #[test]
    fn from_class_accepts_java_and_simple_names() {
        for class in [
            DEFAULT_REPLICATION_POLICY_CLASS,
            "DefaultReplicationPolicy",
            "  org.apache.kafka.connect.mirror.DefaultReplicationPolicy ",
        ] {
            assert_eq!(
                ReplicationPolicy::from_class(class, ".", true),
                Some(default_policy()),
                "{class}"
            );
        }
        for class in [
            IDENTITY_REPLICATION_POLICY_CLASS,
            "IdentityReplicationPolicy",
        ] {
            assert_eq!(
                ReplicationPolicy::from_class(class, ".", true),
                Some(ReplicationPolicy::identity(None)),
                "{class}"
            );
        }
        assert_eq!(
            ReplicationPolicy::from_class("com.example.MyPolicy", ".", true),
            None
        );
        assert_eq!(
            ReplicationPolicy::from_class("org.apache.kafka.connect.mirror.Nope", ".", true),
            None
        );
    }

    #[test]
    fn default_policy_formats_and_parses_remote_topics() {
        let p = default_policy();
        assert_eq!(p.format_remote_topic("A", "orders"), "A.orders");
        assert_eq!(p.topic_source("A.orders"), Some("A"));
        assert_eq!(p.upstream_topic("A.orders"), Some("orders"));
        assert_eq!(p.upstream_topic("A.B.orders"), Some("B.orders"));
        assert_eq!(p.original_topic("A.B.orders"), "orders");
        assert_eq!(p.original_topic("orders"), "orders");
        assert_eq!(p.upstream_topic("orders"), None);
    }

    #[test]
    fn topic_source_follows_java_split_semantics() {
        let p = default_policy();
        assert_eq!(p.topic_source("orders"), None);
        // Trailing empty pieces are dropped: one piece left, so not remote.
        assert_eq!(p.topic_source("orders."), None);
        assert_eq!(p.topic_source("A.."), None);
        assert_eq!(p.topic_source("."), None);
        assert_eq!(p.topic_source(""), None);
        // A leading empty piece is kept.
        assert_eq!(p.topic_source(".x"), Some(""));
        assert_eq!(p.upstream_topic(".x"), Some("x"));
        assert_eq!(p.topic_source("a..b"), Some("a"));
        assert_eq!(p.upstream_topic("a..b"), Some(".b"));
        assert_eq!(p.original_topic("a..b"), "b");
        // The separator is a literal, not a regex.
        let star = custom("*", true);
        assert_eq!(star.topic_source("A*orders"), Some("A"));
        assert_eq!(star.topic_source("A.orders"), None);
    }

    #[test]
    fn empty_separator_splits_between_every_char_like_java() {
        let p = custom("", true);
        assert_eq!(p.format_remote_topic("A", "x"), "Ax");
        assert_eq!(p.topic_source("Ax"), Some("A"));
        assert_eq!(p.upstream_topic("Axy"), Some("xy"));
        assert_eq!(p.original_topic("Axy"), "y");
        assert_eq!(p.topic_source("x"), None);
    }

    #[test]
    fn internal_topic_names_use_the_internal_separator() {
        let p = default_policy();
        assert_eq!(p.heartbeats_topic(), "heartbeats");
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
        assert_eq!(p.checkpoints_topic("A"), "A.checkpoints.internal");

        let under = custom("_", true);
        assert_eq!(under.format_remote_topic("A", "orders"), "A_orders");
        assert_eq!(under.offset_syncs_topic("B"), "mm2-offset-syncs_B_internal");
        assert_eq!(under.checkpoints_topic("A"), "A_checkpoints_internal");
        assert_eq!(under.heartbeats_topic(), "heartbeats");
        assert!(under.is_checkpoints_topic("A_checkpoints_internal"));
        assert!(!under.is_checkpoints_topic("A.checkpoints.internal"));
        assert!(under.is_mm2_internal_topic("mm2-offset-syncs_B_internal"));

        // KAFKA-15102's own example.
        assert_eq!(
            custom("__", true).checkpoints_topic("CLUSTER"),
            "CLUSTER__checkpoints__internal"
        );

        // Flag off: pre-3.1 dotted names, but remote topics still use the separator.
        let legacy = custom("_", false);
        assert_eq!(legacy.format_remote_topic("A", "orders"), "A_orders");
        assert_eq!(
            legacy.offset_syncs_topic("B"),
            "mm2-offset-syncs.B.internal"
        );
        assert_eq!(legacy.checkpoints_topic("A"), "A.checkpoints.internal");
        assert!(legacy.is_checkpoints_topic("A.checkpoints.internal"));
        assert_eq!(legacy.heartbeats_topic(), "heartbeats");
    }

    #[test]
    fn heartbeats_topics_are_recognised_through_any_number_of_hops() {
        let p = default_policy();
        for t in [
            "heartbeats",
            "A.heartbeats",
            "C.A.heartbeats",
            "my.heartbeats",
        ] {
            assert!(p.is_heartbeats_topic(t), "{t}");
        }
        for t in ["heartbeat", "myheartbeats", "heartbeats.x", "A.heartbeats."] {
            assert!(!p.is_heartbeats_topic(t), "{t}");
        }
        assert!(custom("_", true).is_heartbeats_topic("A_heartbeats"));
        assert!(!custom("_", true).is_heartbeats_topic("A.heartbeats"));
    }

    #[test]
    fn checkpoints_and_internal_topics_are_recognised() {
        let p = default_policy();
        assert!(p.is_checkpoints_topic("A.checkpoints.internal"));
        assert!(!p.is_checkpoints_topic("checkpoints.internal"));
        assert!(!p.is_checkpoints_topic("A.checkpoints"));
        assert!(p.is_mm2_internal_topic("mm2-offset-syncs.B.internal"));
        assert!(p.is_mm2_internal_topic("mm2-offsets.A.internal"));
        assert!(!p.is_mm2_internal_topic("orders"));
        for t in [
            "mm2-offset-syncs.B.internal",
            "A.checkpoints.internal",
            "mm2-configs.A.internal",
            "__consumer_offsets",
            "__transaction_state",
            ".hidden",
            "connect-offsets-internal",
            "foo.internal",
        ] {
            assert!(p.is_internal_topic(t), "{t}");
        }
        for t in ["orders", "A.orders", "heartbeats", "internal", "_single"] {
            assert!(!p.is_internal_topic(t), "{t}");
        }
        // Custom separator: MM2's own names end in `_internal`; `.internal` stays internal.
        let under = custom("_", true);
        assert!(under.is_internal_topic("mm2-offset-syncs_B_internal"));
        assert!(under.is_internal_topic("foo.internal"));
    }

    #[test]
    fn identity_policy_keeps_names_except_heartbeats() {
        let p = ReplicationPolicy::identity(Some("A"));
        assert_eq!(p.format_remote_topic("A", "orders"), "orders");
        assert_eq!(p.format_remote_topic("A", "heartbeats"), "A.heartbeats");
        assert_eq!(p.format_remote_topic("A", "B.heartbeats"), "A.B.heartbeats");
        // Plain suffix test: `myheartbeats` is heartbeat-like, formatted the default way.
        assert_eq!(p.format_remote_topic("A", "myheartbeats"), "A.myheartbeats");

        assert_eq!(p.topic_source("orders"), Some("A"));
        assert_eq!(p.topic_source("B.orders"), Some("A"));
        assert_eq!(p.topic_source("B.heartbeats"), Some("B"));
        assert_eq!(p.topic_source("heartbeats"), None);
        assert_eq!(p.upstream_topic("orders"), Some("orders"));
        assert_eq!(p.upstream_topic("B.heartbeats"), Some("heartbeats"));
        assert_eq!(p.upstream_topic("heartbeats"), None);
        assert_eq!(p.original_topic("orders"), "orders");
        assert_eq!(p.original_topic("C.B.heartbeats"), "heartbeats");
        assert!(p.is_heartbeats_topic("B.heartbeats"));
        assert!(!p.is_heartbeats_topic("orders"));

        // Without `source.cluster.alias` (MirrorClient's view) nothing but heartbeats is remote.
        let bare = ReplicationPolicy::identity(None);
        assert_eq!(bare.topic_source("orders"), None);
        assert_eq!(
            bare.clone().with_source_cluster_alias("A"),
            ReplicationPolicy::identity(Some("A"))
        );
        assert_eq!(
            default_policy().with_source_cluster_alias("A"),
            default_policy()
        );
    }

    #[test]
    fn cycle_detection_walks_the_whole_alias_chain() {
        let p = default_policy();
        // §3.4: `B.orders` and `C.B.orders` are never sent from A to B.
        assert!(is_cycle(&p, "B", "B.orders"));
        assert!(is_cycle(&p, "B", "C.B.orders"));
        assert!(!is_cycle(&p, "B", "orders"));
        assert!(!is_cycle(&p, "B", "C.orders"));
        assert!(!is_cycle(&p, "C", "A.orders"));
        assert!(!replicates(&p, "B", "B.orders"));
        assert!(!replicates(&p, "B", "C.B.orders"));
        assert!(replicates(&p, "B", "C.orders"));
    }

    #[test]
    fn active_active_does_not_send_remote_topics_back() {
        let p = default_policy();
        // A -> B: local `orders` on A becomes `A.orders` on B.
        assert!(replicates(&p, "B", "orders"));
        let on_b = p.format_remote_topic("A", "orders");
        assert_eq!(on_b, "A.orders");
        // B -> A: `A.orders` on B must not go back to A; B's own `payments` does.
        assert!(!replicates(&p, "A", &on_b));
        assert!(replicates(&p, "A", "payments"));
        assert_eq!(p.format_remote_topic("B", "payments"), "B.payments");
        // And A -> B will not return `B.payments` either.
        assert!(!replicates(&p, "B", "B.payments"));
        // Heartbeats: B -> A carries `heartbeats` (local to B) but never `A.heartbeats`.
        assert!(replicates(&p, "A", "heartbeats"));
        assert!(!replicates(&p, "A", "A.heartbeats"));
    }

    #[test]
    fn chain_a_b_c_yields_double_prefix_and_a_ring_stops() {
        let p = default_policy();
        let on_b = p.format_remote_topic("A", "orders");
        assert!(replicates(&p, "C", &on_b));
        let on_c = p.format_remote_topic("B", &on_b);
        assert_eq!(on_c, "B.A.orders");
        assert_eq!(p.topic_source(&on_c), Some("B"));
        assert_eq!(p.original_topic(&on_c), "orders");
        // Closing the ring C -> A or C -> B stops at the first cluster already visited.
        assert!(!replicates(&p, "A", &on_c));
        assert!(!replicates(&p, "B", &on_c));
        // Heartbeats travel the chain the same way.
        assert!(replicates(&p, "C", "A.heartbeats"));
        assert!(!replicates(&p, "A", "B.A.heartbeats"));
    }

    #[test]
    fn custom_separator_prevents_cycles_with_its_own_separator() {
        let p = custom("_", true);
        let on_b = p.format_remote_topic("A", "orders");
        assert_eq!(on_b, "A_orders");
        assert!(!replicates(&p, "A", &on_b));
        assert!(!replicates(&p, "A", "B_A_orders"));
        // A dotted name is a local topic under `_`.
        assert!(replicates(&p, "A", "A.orders"));
        assert!(!replicates(&p, "A", "mm2-offset-syncs_A_internal"));
    }

    #[test]
    fn identity_policy_cannot_prevent_cycles_except_for_heartbeats() {
        let a_to_b = ReplicationPolicy::identity(Some("A"));
        let b_to_a = ReplicationPolicy::identity(Some("B"));
        assert!(replicates(&a_to_b, "B", "orders"));
        // Documented MM2 limitation: the same `orders` on B goes straight back to A.
        assert!(!is_cycle(&b_to_a, "A", "orders"));
        assert!(replicates(&b_to_a, "A", "orders"));
        // Heartbeats still carry prefixes, so they do not loop.
        let hb_on_b = a_to_b.format_remote_topic("A", "heartbeats");
        assert_eq!(hb_on_b, "A.heartbeats");
        assert!(is_cycle(&b_to_a, "A", &hb_on_b));
        assert!(!replicates(&b_to_a, "A", &hb_on_b));
    }

    #[test]
    fn heartbeats_bypass_the_topic_filter_but_internal_topics_never_replicate() {
        let p = default_policy();
        let only_orders = TopicFilter::new(&["orders"], &[] as &[&str]).unwrap();
        assert!(should_replicate_topic(&p, &only_orders, "B", "orders"));
        assert!(!should_replicate_topic(&p, &only_orders, "B", "payments"));
        assert!(should_replicate_topic(&p, &only_orders, "B", "heartbeats"));
        assert!(should_replicate_topic(
            &p,
            &only_orders,
            "B",
            "C.heartbeats"
        ));
        assert!(!should_replicate_topic_with_heartbeats(
            &p,
            &only_orders,
            "B",
            "heartbeats",
            false
        ));

        let everything = TopicFilter::new(&[".*"], &[] as &[&str]).unwrap();
        for t in [
            "mm2-offset-syncs.B.internal",
            "A.checkpoints.internal",
            "mm2-offsets.A.internal",
            "__consumer_offsets",
            "foo-internal",
        ] {
            assert!(!should_replicate_topic(&p, &everything, "B", t), "{t}");
        }
    }

    #[test]
    fn target_topics_of_a_flow_exclude_its_checkpoints_topic() {
        let p = default_policy();
        assert!(is_target_topic_of_flow(&p, "A", "A.orders"));
        assert!(is_target_topic_of_flow(&p, "A", "A.heartbeats"));
        assert!(!is_target_topic_of_flow(&p, "A", "A.checkpoints.internal"));
        assert!(!is_target_topic_of_flow(&p, "A", "C.orders"));
        assert!(!is_target_topic_of_flow(&p, "A", "orders"));
    }

    #[test]
    fn parse_list_matches_connect_list_parsing() {
        assert_eq!(parse_list(""), Vec::<&str>::new());
        assert_eq!(parse_list("  \t "), Vec::<&str>::new());
        assert_eq!(parse_list(" a , b,c "), vec!["a", "b", "c"]);
        assert_eq!(parse_list("a,,b"), vec!["a", "", "b"]);
        assert_eq!(parse_list("a,"), vec!["a", ""]);
        assert_eq!(
            parse_list(DEFAULT_TOPICS_EXCLUDE),
            vec![r".*[\-\.]internal", r".*\.replica", "__.*"]
        );
    }

    #[test]
    fn default_topic_filter_matches_mm2_defaults() {
        let f = TopicFilter::default();
        for t in ["orders", "A.orders", "heartbeats", "payments-v2"] {
            assert!(f.should_replicate_topic(t), "{t}");
        }
        for t in [
            "foo.internal",
            "foo-internal",
            "mm2-offset-syncs.B.internal",
            "foo.replica",
            "__consumer_offsets",
        ] {
            assert!(!f.should_replicate_topic(t), "{t}");
        }
        // Full match: `_internal` and `.replica` in the middle do not count.
        assert!(f.should_replicate_topic("foo_internal"));
        assert!(f.should_replicate_topic("foo.replica.x"));
    }

    #[test]
    fn topic_filter_patterns_are_full_match_and_excludes_win() {
        let f = TopicFilter::new(&parse_list("foo, bar.*"), &parse_list("bar-secret")).unwrap();
        assert!(f.should_replicate_topic("foo"));
        assert!(!f.should_replicate_topic("foobar"));
        assert!(!f.should_replicate_topic("xfoo"));
        assert!(f.should_replicate_topic("bar"));
        assert!(f.should_replicate_topic("bar-public"));
        assert!(!f.should_replicate_topic("bar-secret"));
        // `a|b` joined: an alternative cannot leak its anchor to the other.
        let g = TopicFilter::new(&["a", "b"], &[] as &[&str]).unwrap();
        assert!(!g.should_replicate_topic("ab"));
    }

    #[test]
    fn empty_lists_match_nothing() {
        let nothing =
            TopicFilter::new(&parse_list(""), &parse_list(DEFAULT_TOPICS_EXCLUDE)).unwrap();
        assert!(!nothing.should_replicate_topic("orders"));
        let no_exclude = TopicFilter::new(&parse_list(".*"), &parse_list(" ")).unwrap();
        assert!(no_exclude.should_replicate_topic("foo.internal"));
        assert!(no_exclude.should_replicate_topic("__consumer_offsets"));
    }

    #[test]
    fn invalid_pattern_is_a_typed_error_naming_key_and_item() {
        let err = TopicFilter::new(&["ok", "bad("], &[] as &[&str]).unwrap_err();
        let FilterError::InvalidPattern { key, pattern, .. } = &err;
        assert_eq!(*key, "topics");
        assert_eq!(pattern, "bad(");
        assert_eq!(err.to_string(), "topics: invalid regex `bad(`");
        assert!(std::error::Error::source(&err).is_some());

        let err = GroupFilter::new(&[".*"], &["[z-a]"]).unwrap_err();
        assert!(matches!(
            err,
            FilterError::InvalidPattern {
                key: "groups.exclude",
                ..
            }
        ));
    }

    #[test]
    fn default_group_filter_matches_mm2_defaults() {
        let f = GroupFilter::default();
        for g in ["g1", "orders-service", "my-console-consumer-1"] {
            assert!(f.should_replicate_group(g), "{g}");
        }
        for g in ["console-consumer-12345", "connect-mm2", "__cg"] {
            assert!(!f.should_replicate_group(g), "{g}");
        }
        let only = GroupFilter::new(&parse_list("team-.*"), &parse_list("")).unwrap();
        assert!(only.should_replicate_group("team-a"));
        assert!(!only.should_replicate_group("other"));
    }
}
