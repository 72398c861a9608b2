//! What one pass of a sync leaf did (changes applied, changes refused with the
//! broker's reason, when), for the engine to hand on to logs, metrics and status.
//!
//! # References
//! - Issue 7: "each runner returns a report (applied, rejected with reason, when)".

use std::fmt;
use std::time::SystemTime;

/// One change a sync pass made on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Target resource: a remote topic name, or an ACL binding in words.
    pub resource: String,
    /// What was done, e.g. `set retention.ms=1000` or `add ACL`.
    pub change: String,
}

/// One change the target refused, or a read that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Target resource (remote topic, ACL binding in words), or the cluster
    /// alias when a whole read failed.
    pub resource: String,
    /// The config key refused. `Some` means only this key was left out and the
    /// resource's other changes were applied; `None` means nothing was applied.
    pub key: Option<String>,
    /// The broker's error name and message (or what failed), for operators.
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{}: {k}: {}", self.resource, self.reason),
            None => write!(f, "{}: {}", self.resource, self.reason),
        }
    }
}

/// The outcome of one pass of one sync of one flow.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// Which sync: `topic-configs` or `acls`.
    pub sync: &'static str,
    /// `source->target`.
    pub flow: String,
    /// When the pass ended.
    pub when: SystemTime,
    /// Changes made on the target.
    pub applied: Vec<Applied>,
    /// Changes refused and reads that failed; retried next interval.
    pub rejected: Vec<Rejected>,
    /// When a pass of this sync last succeeded (this one included), for the
    /// metrics endpoint's "last success" gauge.
    pub last_success: Option<SystemTime>,
}

impl SyncReport {
    /// An empty report for `sync` of `flow`, stamped now.
    pub fn new(sync: &'static str, flow: impl Into<String>) -> Self {
        Self {
            sync,
            flow: flow.into(),
            when: SystemTime::now(),
            applied: Vec::new(),
            rejected: Vec::new(),
            last_success: None,
        }
    }

    /// True when every resource was read and brought in line with the source,
    /// apart from single keys the target refused (those are named in
    /// `rejected` with their key).
    pub fn succeeded(&self) -> bool {
        self.rejected.iter().all(|r| r.key.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_alone_does_not_fail_the_pass() {
        let mut r = SyncReport::new("topic-configs", "A->B");
        assert!(r.succeeded());
        r.rejected.push(Rejected {
            resource: "A.t".into(),
            key: Some("bogus".into()),
            reason: "INVALID_CONFIG".into(),
        });
        assert!(r.succeeded());
        r.rejected.push(Rejected {
            resource: "A.u".into(),
            key: None,
            reason: "TOPIC_AUTHORIZATION_FAILED".into(),
        });
        assert!(!r.succeeded());
        assert_eq!(r.rejected[0].to_string(), "A.t: bogus: INVALID_CONFIG");
    }
}
