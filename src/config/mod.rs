//! MM2 properties files → a typed replication plan: clusters, flows and every client setting,
//! with MirrorMaker 2's precedence and defaults, plus diagnostics an operator can act on.
//!
//! * [`properties`]: the Java `.properties` lexer (`java.util.Properties.load` semantics).
//! * [`mm2`]: the typed configuration ([`Mm2Config`], [`FlowConfig`], [`ClusterConfig`]) and its
//!   errors ([`ConfigError`], collected in [`ConfigErrors`]) and warnings ([`Diagnostic`]).
//! * [`lint`]: typo detection and the notes on keys kmirror does not use; its module docs record
//!   how the seed document's own mistakes are treated.
//! * [`clients`]: the Kafka client settings (`{alias}.consumer.*`, `{alias}.producer.*`,
//!   `{alias}.admin.*`, `ssl.*`, ...): the ones kmirror reads, typed, and why it ignores the rest.
//! * [`providers`]: Kafka's config providers (`${file:/path:key}`, `${env:NAME}`,
//!   `${dir:/path:file}`), expanded before anything reads the values, and the rule for which
//!   values are secrets ([`is_sensitive`], [`redact`]): they are printed as [`HIDDEN`].
//!
//! ```
//! let cfg = kmirror::config::parse_str(
//!     "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n",
//!     "mm2.properties",
//! )
//! .expect("valid");
//! let flow = cfg.enabled_flows().next().expect("one flow");
//! assert_eq!(flow.name(), "A->B");
//! assert_eq!(flow.topics, vec![".*"]);
//! ```

pub mod clients;
pub mod lint;
pub mod mm2;
pub mod properties;
pub mod providers;

pub use mm2::{
    ClusterConfig, ConfigError, ConfigErrors, Diagnostic, ErrorKind, FlowConfig, Mm2Config,
    OffsetSyncsTopicLocation, Origin, PolicyConfig, PolicyKind, UseDefaultsFrom, WarningKind, load,
    parse_str,
};
pub use providers::{HIDDEN, is_sensitive, redact};
