//! Scale-out: many kmirror processes share one flow through Kafka's group protocol on the
//! target cluster. This is the pure part: the member/assignment bytes, the leader's assignor
//! and which of the leader's settings every member runs.

pub mod assignor;
pub mod metadata;

pub use assignor::{Plan, assign};
pub use metadata::{Assignment, MemberMetadata, MetadataError, TopicPartition, differing_keys};

use std::collections::BTreeMap;

use crate::config::mm2::FlowConfig;

/// Per-key hashes of a flow's settings, secrets left out, so members can name
/// the keys that differ without showing values. CRC32C: stable across builds.
pub fn config_keys(f: &FlowConfig) -> BTreeMap<String, String> {
    f.settings
        .iter()
        .filter(|(k, _)| !crate::config::is_sensitive(k))
        .map(|(k, (v, _))| (k.clone(), format!("{:08x}", crc32c::crc32c(v.as_bytes()))))
        .collect()
}

/// One hash over per-key hashes ([`config_keys`]): equal files give equal
/// fingerprints.
pub fn config_fingerprint(keys: &BTreeMap<String, String>) -> String {
    let text: String = keys.iter().map(|(k, h)| format!("{k}={h}\n")).collect();
    format!("{:08x}", crc32c::crc32c(text.as_bytes()))
}

/// Settings each process keeps from its own file even when the group leader's
/// differ: secrets, and how this process reaches the clusters (addresses,
/// TLS/SASL files and modes, socket sizes, client ids) — another host may need
/// other values, and the leader's file paths may not exist here.
pub fn is_local_setting(key: &str) -> bool {
    crate::config::is_sensitive(key)
        || key == "enabled"
        || key.ends_with(".alias")
        || key.ends_with("bootstrap.servers")
        || key.starts_with("config.providers")
        || [
            "ssl.",
            "sasl.",
            "security.protocol",
            "socket.",
            "send.buffer.bytes",
            "receive.buffer.bytes",
            "client.id",
        ]
        .iter()
        .any(|part| key.starts_with(part) || key.contains(&format!(".{part}")))
}

/// The settings of `f` that every member of the flow's group runs when this
/// process leads: its MM2 connector settings, defaults included, plus its
/// data producer's as `producer.override.*` (how a flow-level key reaches that
/// producer), without [`is_local_setting`] keys.
pub fn adoptable_settings(f: &FlowConfig) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = f
        .settings
        .iter()
        .filter(|(k, _)| !is_local_setting(k))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &f.target_producer {
        if !is_local_setting(k) {
            out.insert(format!("producer.override.{k}"), v.clone());
        }
    }
    out
}

/// Keys whose value `leader` sets differently from `running` (keys only
/// `running` has are this process's own: the leader's file leaves them out).
pub fn settings_to_adopt(
    running: &BTreeMap<String, String>,
    leader: &BTreeMap<String, String>,
) -> Vec<String> {
    leader
        .iter()
        .filter(|(k, v)| running.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// `text` (a properties file) with the leader's settings appended as
/// flow-level `{source}->{target}.{key}` lines, which MM2's precedence puts
/// above every other level.
pub fn with_leader_settings(
    text: &str,
    source: &str,
    target: &str,
    leader: &BTreeMap<String, String>,
) -> String {
    use crate::config::properties::{Entry, render};
    let entries: Vec<Entry> = leader
        .iter()
        .map(|(k, v)| Entry {
            key: format!("{source}->{target}.{k}"),
            value: v.clone(),
            line: 0,
        })
        .collect();
    format!(
        "{text}\n# the scale-out group leader's settings for this flow\n{}",
        render(&entries)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(text: &str) -> FlowConfig {
        let cfg = crate::config::mm2::parse_str(text, "test.properties").expect("parses");
        cfg.flow("A", "B").expect("flow A->B").clone()
    }

    const LEADER: &str = r"clusters = A, B
A.bootstrap.servers = leader-a:9092
B.bootstrap.servers = leader-b:9092
A->B.enabled = true
A->B.topics = orders.*, payments
replication.policy.separator = _
config.properties.exclude = min\.insync\.replicas
A.consumer.isolation.level = read_uncommitted
B.producer.compression.type = zstd
B.security.protocol = SSL
B.ssl.truststore.location = /leader/only/truststore.p12
";

    const MEMBER: &str = r"clusters = A, B
A.bootstrap.servers = member-a:9092
B.bootstrap.servers = member-b:9092
A->B.enabled = true
A->B.topics = orders.*
offset.lag.max = 7
B.producer.compression.type = lz4
";

    #[test]
    fn connection_settings_and_secrets_stay_local() {
        for key in [
            "source.cluster.bootstrap.servers",
            "target.admin.ssl.truststore.location",
            "ssl.keystore.password",
            "sasl.jaas.config",
            "target.cluster.security.protocol",
            "source.consumer.socket.receive.buffer.bytes",
            "source.consumer.receive.buffer.bytes",
            "producer.override.send.buffer.bytes",
            "source.cluster.alias",
            "config.providers.file.class",
            "enabled",
        ] {
            assert!(is_local_setting(key), "{key}");
        }
        for key in [
            "topics",
            "replication.policy.separator",
            "source.consumer.isolation.level",
            "producer.override.compression.type",
            "offset.lag.max",
        ] {
            assert!(!is_local_setting(key), "{key}");
        }
    }

    #[test]
    fn a_member_rebuilt_with_the_leaders_settings_runs_them_and_keeps_its_connections() {
        let leader = adoptable_settings(&flow(LEADER));
        assert!(leader.keys().all(|k| !is_local_setting(k)), "{leader:?}");
        assert_eq!(leader["producer.override.compression.type"], "zstd");
        let member = flow(MEMBER);
        let differ = settings_to_adopt(&adoptable_settings(&member), &leader);
        for key in [
            "topics",
            "replication.policy.separator",
            "config.properties.exclude",
            "source.consumer.isolation.level",
            "producer.override.compression.type",
            "offset.lag.max",
        ] {
            assert!(differ.contains(&key.to_owned()), "{key} in {differ:?}");
        }
        let merged = flow(&with_leader_settings(MEMBER, "A", "B", &leader));
        let running = adoptable_settings(&merged);
        assert_eq!(settings_to_adopt(&running, &leader), Vec::<String>::new());
        assert_eq!(merged.topics, ["orders.*", "payments"]);
        assert_eq!(merged.replication_policy.separator, "_");
        assert_eq!(merged.offset_lag_max, 100, "the leader's default wins");
        assert_eq!(merged.target_producer["compression.type"], "zstd");
        assert_eq!(
            merged.source_consumer["isolation.level"],
            "read_uncommitted"
        );
        assert_eq!(merged.target_producer["bootstrap.servers"], "member-b:9092");
        assert!(
            !merged
                .settings
                .contains_key("target.cluster.ssl.truststore.location")
        );
    }
}
