//! Which version of each API we speak: kafka-protocol's range, capped where a
//! newer version changes shape in a way our helpers do not handle, then
//! intersected with the broker's ApiVersions answer.
//!
//! # References
//! - KIP-511 (ApiVersions), KIP-516 (topic ids in Fetch v13+ / Produce v13).

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// Our highest version for APIs whose newer versions we do not speak.
pub fn our_max(api: ApiKey) -> Option<i16> {
    Some(match api {
        // v13+ address topics by id only; we route by name.
        ApiKey::Fetch => 12,
        ApiKey::Produce => 12,
        // v8+ batch several groups per request with another shape.
        ApiKey::OffsetFetch => 7,
        _ => return None,
    })
}

/// The range we can speak for `api`.
pub fn ours(api: ApiKey) -> VersionRange {
    let r = api.valid_versions();
    match our_max(api) {
        Some(max) => VersionRange {
            min: r.min,
            max: r.max.min(max),
        },
        None => r,
    }
}

/// Negotiated versions of one broker connection.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// Broker's advertised range per API key.
    broker: HashMap<i16, VersionRange>,
}

impl Negotiated {
    /// From the broker's ApiVersions entries (key, min, max).
    pub fn new(entries: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        Self {
            broker: entries
                .into_iter()
                .map(|(k, min, max)| (k, VersionRange { min, max }))
                .collect(),
        }
    }

    /// The highest version both sides support, if any.
    pub fn version(&self, api: ApiKey) -> Option<i16> {
        let theirs = self.broker.get(&(api as i16))?;
        let both = ours(api).intersect(theirs);
        (!both.is_empty()).then_some(both.max)
    }

    /// True when the broker lists the API at all.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.version(api).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_common_version_is_chosen() {
        let n = Negotiated::new([
            (ApiKey::Fetch as i16, 0, 16),
            (ApiKey::Metadata as i16, 0, 5),
        ]);
        assert_eq!(n.version(ApiKey::Fetch), Some(12));
        assert_eq!(n.version(ApiKey::Metadata), Some(5));
        assert_eq!(n.version(ApiKey::Produce), None);
    }

    #[test]
    fn disjoint_ranges_give_none() {
        let n = Negotiated::new([(ApiKey::Fetch as i16, 0, 3)]);
        assert_eq!(n.version(ApiKey::Fetch), None);
    }
}
