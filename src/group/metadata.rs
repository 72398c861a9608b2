//! The bytes of kmirror's group protocol (protocol type `kmirror`): what each member puts in its
//! JoinGroup metadata ([`MemberMetadata`]) and what the leader sends it in SyncGroup ([`Assignment`]).
//!
//! Both are JSON objects carrying a major version `"v"` (currently [`VERSION`]). Decoding rejects
//! any other major version, ignores fields it does not know (so a newer minor release can add
//! some), and never panics on input. Topic-partitions are `["topic", partition]` pairs; loads are
//! `["topic", partition, bytes_per_sec]` triples (JSON objects only have string keys).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The group protocol type kmirror members declare in JoinGroup.
pub const PROTOCOL_TYPE: &str = "kmirror";
/// The major version this build writes and reads.
pub const VERSION: u32 = 1;

/// A source topic and partition.
pub type TopicPartition = (String, i32);

/// Result alias for this module.
pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// Why member metadata or an assignment could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The bytes are not JSON.
    #[error("group metadata is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// Valid JSON, but not an object.
    #[error("group metadata is not a JSON object")]
    NotObject,
    /// No `"v"` field.
    #[error("group metadata has no version field \"v\"")]
    MissingVersion,
    /// A major version this build cannot read (a newer kmirror, or not kmirror at all).
    #[error("unsupported group metadata version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The `"v"` value as JSON text.
        found: String,
        /// The version this build reads.
        supported: u32,
    },
    /// The right version, but a field is missing or has the wrong type.
    #[error("invalid version {VERSION} group metadata")]
    Invalid(#[source] serde_json::Error),
}

/// What a member tells the leader in JoinGroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberMetadata {
    /// Major format version ([`VERSION`]).
    #[serde(rename = "v")]
    pub version: u32,
    /// Partitions the member is replicating now.
    pub owned: Vec<TopicPartition>,
    /// Generation in which `owned` was assigned, -1 if none.
    pub generation: i32,
    /// Measured bytes/s per owned partition. A member should also keep the last measurement
    /// of partitions it released in the previous round: the leader uses it for partitions
    /// nobody owns yet, so a moved partition is placed by its real weight. Non-finite values
    /// are not encoded.
    #[serde(default, with = "load_list")]
    pub load: BTreeMap<TopicPartition, f64>,
    /// Hex digest of the member's flow configuration, secrets excluded (computed by the caller).
    #[serde(default)]
    pub config_fingerprint: String,
    /// Config key -> hash of its value, so differing keys can be named without their values.
    #[serde(default)]
    pub config_keys: BTreeMap<String, String>,
}

impl Default for MemberMetadata {
    fn default() -> Self {
        Self {
            version: VERSION,
            owned: Vec::new(),
            generation: -1,
            load: BTreeMap::new(),
            config_fingerprint: String::new(),
            config_keys: BTreeMap::new(),
        }
    }
}

/// What the leader tells one member in SyncGroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Major format version ([`VERSION`]).
    #[serde(rename = "v")]
    pub version: u32,
    /// Generation this assignment belongs to.
    pub generation: i32,
    /// Partitions the member replicates in this generation.
    pub partitions: Vec<TopicPartition>,
    /// Member id of the leader that computed it.
    pub leader_member: String,
    /// Some partitions were held back this round for cooperative revocation; another
    /// round follows once their old owners have stopped them.
    #[serde(default)]
    pub revoked_pending: bool,
    /// The leader's per-key config hashes, so every member can name the keys
    /// in which its own file differs from the leader's (whose settings decide).
    #[serde(default)]
    pub leader_config_keys: BTreeMap<String, String>,
    /// The leader's flow settings that every member runs (MM2 connector key ->
    /// value), secrets and connection settings left out: see
    /// [`crate::group::adoptable_settings`].
    #[serde(default)]
    pub leader_settings: BTreeMap<String, String>,
}

impl MemberMetadata {
    /// JoinGroup metadata bytes.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }

    /// Parses JoinGroup metadata bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode(bytes)
    }
}

impl Assignment {
    /// SyncGroup assignment bytes.
    pub fn encode(&self) -> Bytes {
        encode(self)
    }

    /// Parses SyncGroup assignment bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode(bytes)
    }
}

/// Config keys whose value hashes differ between two members, or that only one of them has.
pub fn differing_keys(a: &MemberMetadata, b: &MemberMetadata) -> Vec<String> {
    differing_config_keys(&a.config_keys, &b.config_keys)
}

/// Keys whose value hashes differ between two per-key hash maps, or that only one has.
pub fn differing_config_keys(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    // Invariant: both types hold only strings, integers, bools, string-keyed maps and
    // finite floats (`load_list` skips the others), all of which serde_json writes.
    Bytes::from(serde_json::to_vec(value).expect("group metadata is always JSON-serialisable"))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(MetadataError::NotJson)?;
    let object = value.as_object().ok_or(MetadataError::NotObject)?;
    let v = object.get("v").ok_or(MetadataError::MissingVersion)?;
    if v.as_u64() != Some(u64::from(VERSION)) {
        return Err(MetadataError::UnsupportedVersion {
            found: v.to_string(),
            supported: VERSION,
        });
    }
    serde_json::from_value(value).map_err(MetadataError::Invalid)
}

/// `load` as a list of `[topic, partition, bytes_per_sec]`.
mod load_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::TopicPartition;

    pub(super) fn serialize<S: Serializer>(
        load: &BTreeMap<TopicPartition, f64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let finite = load.iter().filter(|(_, l)| l.is_finite());
        s.collect_seq(finite.map(|((topic, partition), l)| (topic, partition, l)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<TopicPartition, f64>, D::Error> {
        let list = Vec::<(String, i32, f64)>::deserialize(d)?;
        Ok(list.into_iter().map(|(t, p, l)| ((t, p), l)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MemberMetadata {
        MemberMetadata {
            owned: vec![("orders".into(), 0), ("orders".into(), 3)],
            generation: 7,
            load: [(("orders".into(), 0), 1024.5), (("orders".into(), 3), 0.0)].into(),
            config_fingerprint: "ab12".into(),
            config_keys: [("topics".into(), "h1".into()), ("acks".into(), "h2".into())].into(),
            ..MemberMetadata::default()
        }
    }

    #[test]
    fn member_metadata_round_trips() {
        let m = sample();
        assert_eq!(MemberMetadata::decode(&m.encode()).unwrap(), m);
        let empty = MemberMetadata::default();
        assert_eq!(MemberMetadata::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn assignment_round_trips() {
        let a = Assignment {
            version: VERSION,
            generation: 12,
            partitions: vec![("t".into(), 1), ("u".into(), 2)],
            leader_member: "kmirror-1-abc".into(),
            revoked_pending: true,
            leader_config_keys: BTreeMap::from([("topics".into(), "ab12".into())]),
            leader_settings: BTreeMap::from([("topics".into(), "orders.*".into())]),
        };
        assert_eq!(Assignment::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn non_finite_loads_are_not_encoded() {
        let mut m = sample();
        m.load.insert(("orders".into(), 9), f64::NAN);
        m.load.insert(("orders".into(), 8), f64::INFINITY);
        assert_eq!(MemberMetadata::decode(&m.encode()).unwrap(), sample());
    }

    #[test]
    fn garbage_decodes_to_errors_without_panicking() {
        let valid = sample().encode();
        let fixed: [&[u8]; 9] = [
            b"",
            b"\xff\xfe\x00",
            b"null",
            b"[1, [], 0]",
            b"{\"v\":1}",
            b"{\"v\":1,\"owned\":[[\"t\",99999999999]],\"generation\":1,\"config_fingerprint\":\"\"}",
            b"{\"v\":1,\"owned\":[[\"t\"]],\"generation\":1,\"config_fingerprint\":\"\"}",
            b"{\"v\":1,\"owned\":[],\"generation\":1,\"config_fingerprint\":\"\",\"load\":[[\"t\",0,null]]}",
            &[b'['; 10_000],
        ];
        for input in fixed
            .into_iter()
            .chain((0..valid.len()).map(|n| &valid[..n]))
        {
            assert!(MemberMetadata::decode(input).is_err(), "{input:?}");
            assert!(Assignment::decode(input).is_err(), "{input:?}");
        }
        // Corrupting any one byte may or may not stay valid, but must never panic.
        let mut seed = 0x2545_f491_u32;
        for i in 0..valid.len() * 8 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let mut bytes = valid.to_vec();
            bytes[i % valid.len()] = seed.to_le_bytes()[0];
            let _ = MemberMetadata::decode(&bytes);
            let _ = Assignment::decode(&bytes);
        }
    }

    #[test]
    fn unknown_major_version_is_rejected_by_name() {
        let future = MemberMetadata {
            version: 2,
            ..sample()
        };
        let err = MemberMetadata::decode(&future.encode()).unwrap_err();
        assert!(
            matches!(&err, MetadataError::UnsupportedVersion { found, supported: 1 } if found == "2")
        );
        assert_eq!(
            err.to_string(),
            "unsupported group metadata version 2 (this build reads version 1)"
        );
        let err = Assignment::decode(br#"{"v":"1","generation":1}"#).unwrap_err();
        assert!(matches!(err, MetadataError::UnsupportedVersion { .. }));
        let err = Assignment::decode(br#"{"generation":1}"#).unwrap_err();
        assert!(matches!(err, MetadataError::MissingVersion));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut value: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        value["rack"] = "eu-west-1a".into();
        value["future"] = serde_json::json!({"nested": [1, 2, {"x": null}]});
        let bytes = serde_json::to_vec(&value).unwrap();
        assert_eq!(MemberMetadata::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn differing_keys_names_changed_and_one_sided_keys() {
        let keyed = |pairs: &[(&str, &str)]| MemberMetadata {
            config_keys: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..MemberMetadata::default()
        };
        let a = keyed(&[("acks", "1"), ("topics", "2"), ("zstd.level", "3")]);
        let b = keyed(&[("acks", "1"), ("topics", "9"), ("batch.size", "4")]);
        assert_eq!(
            differing_keys(&a, &b),
            ["batch.size", "topics", "zstd.level"]
        );
        assert_eq!(
            differing_keys(&b, &a),
            ["batch.size", "topics", "zstd.level"]
        );
        assert!(differing_keys(&a, &a).is_empty());
    }
}
