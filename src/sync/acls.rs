//! ACL sync beside the data path (MM2's `syncTopicAcls`): topic ACLs of the source
//! copied to the remote topics on the target, never deleted; pure planner, thin runner.
//!
//! Rules ([`plan_acls`]): read TOPIC bindings of any pattern; keep LITERAL
//! patterns whose topic passes the flow's replicate test (a literal `*` passes
//! the default filter and becomes the literal `{source}{separator}*`, which
//! matches no topic on the target: warned about); drop ALLOW WRITE (only the
//! replicator writes remote topics); turn ALLOW ALL into ALLOW READ; keep DENY
//! entries as they are; rename the resource to the remote topic. Bindings the
//! target already holds are not sent again. A source without an authorizer
//! (`SECURITY_DISABLED`) is skipped with one log line.
//!
//! # References
//! - mm2-reference.md §5; Kafka `connect/mirror/.../MirrorSourceConnector.java`
//!   (`listTopicAclBindings`, `shouldReplicateAcl`, `targetAclBinding`, `syncTopicAcls`).
//! - KIP-140 (ACL admin APIs), KIP-290 (prefixed patterns).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use kmirror_protocol::client::api::acls::{
    AclBinding, AclFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::ResponseError;
use tokio_util::sync::CancellationToken;

use super::report::{Applied, Rejected, SyncReport};
use super::topics::FlowTopics;

/// Shortest sync interval honoured (zero would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// MM2's `ANY_TOPIC_ACL` filter: every TOPIC binding, any name, pattern and entry.
pub fn topic_acl_filter() -> AclFilter {
    AclFilter {
        resource_type: ResourceType::Topic,
        pattern_type: PatternType::Any,
        ..AclFilter::any()
    }
}

/// The target binding for a source binding, or `None` when MM2 does not
/// replicate it (not a LITERAL TOPIC pattern, a topic the flow does not
/// replicate, or ALLOW WRITE).
pub fn remote_binding(b: &AclBinding, topics: &FlowTopics) -> Option<AclBinding> {
    if b.resource_type != ResourceType::Topic
        || b.pattern_type != PatternType::Literal
        || !topics.replicates(&b.resource_name)
    {
        return None;
    }
    let operation = match (b.permission, b.operation) {
        (AclPermissionType::Allow, AclOperation::Write) => return None,
        (AclPermissionType::Allow, AclOperation::All) => AclOperation::Read,
        (_, op) => op,
    };
    Some(AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topics.remote_topic(&b.resource_name),
        pattern_type: PatternType::Literal,
        principal: b.principal.clone(),
        host: b.host.clone(),
        operation,
        permission: b.permission,
    })
}

/// What one ACL sync pass would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclPlan {
    /// Bindings to create on the target, in source order, without duplicates.
    pub create: Vec<AclBinding>,
    /// Warnings about what the copies mean (the literal `*` case).
    pub warnings: Vec<String>,
}

/// Plans an ACL sync pass from the source's TOPIC bindings and the target's
/// (bindings already there are left out; nothing is ever deleted).
pub fn plan_acls(source: &[AclBinding], target: &[AclBinding], topics: &FlowTopics) -> AclPlan {
    let have: HashSet<&AclBinding> = target.iter().collect();
    let mut seen = HashSet::new();
    let mut plan = AclPlan::default();
    for b in source {
        let Some(r) = remote_binding(b, topics) else {
            continue;
        };
        if b.resource_name == "*" {
            let w = if r.resource_name == "*" {
                format!(
                    "ACL on every topic (literal *) for {} is copied as literal * and so applies to every topic on {}",
                    b.principal, topics.target_alias
                )
            } else {
                format!(
                    "ACL on every topic (literal *) for {} becomes literal {} on {}, which matches no topic there (as in MM2)",
                    b.principal, r.resource_name, topics.target_alias
                )
            };
            if !plan.warnings.contains(&w) {
                plan.warnings.push(w);
            }
        }
        if have.contains(&r) || !seen.insert(r.clone()) {
            continue;
        }
        plan.create.push(r);
    }
    plan
}

/// A binding in words, Kafka's `kafka-acls --list` order: permission,
/// operation, resource, principal, host.
pub fn describe_binding(b: &AclBinding) -> String {
    format!(
        "{} {} on {} {} ({}) for {} from {}",
        kafka_word(&format!("{:?}", b.permission)),
        kafka_word(&format!("{:?}", b.operation)),
        kafka_word(&format!("{:?}", b.resource_type)),
        b.resource_name,
        kafka_word(&format!("{:?}", b.pattern_type)),
        b.principal,
        b.host
    )
}

/// `DescribeConfigs` → `DESCRIBE_CONFIGS` (Kafka's enum spelling).
fn kafka_word(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Reads the source's topic ACLs; `Ok(None)` when it has no authorizer.
async fn read_source(source: &Client) -> Result<Option<Vec<AclBinding>>, ClientError> {
    match source.describe_acls(topic_acl_filter()).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.code() == Some(ResponseError::SecurityDisabled) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the target's topic ACLs, to skip those already there. A target that
/// cannot list them gets every binding again (CreateAcls is idempotent).
async fn read_target(target: &Client) -> Vec<AclBinding> {
    target
        .describe_acls(topic_acl_filter())
        .await
        .unwrap_or_default()
}

/// The dry run of `kmirror check --connect`: `would add ACL …` lines. Reads only.
pub async fn dry_run(
    source: &Client,
    target: &Client,
    topics: &FlowTopics,
) -> Result<Vec<String>, ClientError> {
    let Some(src) = read_source(source).await? else {
        return Ok(vec![format!(
            "ACL sync: {} has no authorizer (SECURITY_DISABLED); nothing to copy",
            topics.source_alias
        )]);
    };
    let plan = plan_acls(&src, &read_target(target).await, topics);
    Ok(dry_run_lines(&plan, &topics.target_alias))
}

/// The lines [`dry_run`] prints for a plan.
fn dry_run_lines(plan: &AclPlan, target_alias: &str) -> Vec<String> {
    let mut out: Vec<String> = plan
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    out.extend(
        plan.create
            .iter()
            .map(|b| format!("would add ACL {} on {target_alias}", describe_binding(b))),
    );
    out
}

/// The periodic ACL sync of one flow: at start, then every
/// `sync.topic.acls.interval.seconds`.
#[derive(Debug)]
pub struct AclSync {
    /// Which topics and their remote names.
    topics: FlowTopics,
    /// Source cluster (read only).
    source: Client,
    /// Target cluster (ACLs added).
    target: Client,
    /// Messages already logged at warn level; each is logged once.
    logged: HashSet<String>,
    /// When a pass last succeeded.
    last_success: Option<SystemTime>,
}

impl AclSync {
    /// An ACL sync for `topics` between `source` and `target`.
    pub fn new(topics: FlowTopics, source: Client, target: Client) -> Self {
        Self {
            topics,
            source,
            target,
            logged: HashSet::new(),
            last_success: None,
        }
    }

    /// Runs passes until `cancel`, handing each report to `on_report`.
    pub async fn run(
        mut self,
        interval: Duration,
        cancel: CancellationToken,
        mut on_report: impl FnMut(&SyncReport) + Send,
    ) {
        let mut tick = tokio::time::interval(interval.max(MIN_INTERVAL));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let report = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.sync_once() => r,
            };
            on_report(&report);
        }
    }

    /// One pass: read, plan, create, report.
    pub async fn sync_once(&mut self) -> SyncReport {
        let flow = self.topics.flow();
        let mut report = SyncReport::new("acls", flow.clone());
        if let Err(e) = self.pass(&mut report).await {
            if self.logged.insert(format!("pass: {e}")) {
                tracing::warn!(flow = %flow, error = %e, "ACL sync pass failed; retrying next interval");
            }
            report.rejected.push(Rejected {
                resource: flow.clone(),
                key: None,
                reason: e.to_string(),
            });
        }
        report.when = SystemTime::now();
        if report.succeeded() {
            self.last_success = Some(report.when);
        }
        report.last_success = self.last_success;
        report
    }

    async fn pass(&mut self, report: &mut SyncReport) -> Result<(), ClientError> {
        let flow = self.topics.flow();
        let Some(src) = read_source(&self.source).await? else {
            if self.logged.insert("source security disabled".to_owned()) {
                tracing::info!(flow = %flow, cluster = %self.topics.source_alias, "source cluster has no authorizer (SECURITY_DISABLED); no ACLs to sync");
            }
            return Ok(());
        };
        let plan = plan_acls(&src, &read_target(&self.target).await, &self.topics);
        for w in &plan.warnings {
            if self.logged.insert(w.clone()) {
                tracing::warn!(flow = %flow, "{w}");
            }
        }
        if plan.create.is_empty() {
            return Ok(());
        }
        let results = self.target.create_acls(&plan.create).await?;
        for (b, res) in plan.create.iter().zip(results) {
            let what = describe_binding(b);
            match res {
                Ok(()) => {
                    tracing::info!(flow = %flow, acl = %what, "added ACL on the target");
                    report.applied.push(Applied {
                        resource: what,
                        change: "add ACL".to_owned(),
                    });
                }
                Err(e) => {
                    if self.logged.insert(format!("{what} {e}")) {
                        tracing::warn!(flow = %flow, topic = %b.resource_name, acl = %what, error = %e, "target refused an ACL; retrying next interval");
                    }
                    report.rejected.push(Rejected {
                        resource: what,
                        key: None,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ReplicationPolicy, TopicFilter};

    fn topics() -> FlowTopics {
        FlowTopics {
            source_alias: "A".into(),
            target_alias: "B".into(),
            policy: ReplicationPolicy::default(),
            filter: TopicFilter::default(),
            heartbeats_replication_enabled: true,
        }
    }

    fn acl(
        name: &str,
        pattern: PatternType,
        permission: AclPermissionType,
        operation: AclOperation,
    ) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation,
            permission,
        }
    }

    use AclOperation as Op;
    use AclPermissionType as Perm;
    use PatternType as Pat;

    #[test]
    fn literal_topic_acls_are_copied_to_the_remote_topic() {
        let src = [
            acl("orders", Pat::Literal, Perm::Allow, Op::Read),
            acl("orders", Pat::Literal, Perm::Allow, Op::Describe),
        ];
        let plan = plan_acls(&src, &[], &topics());
        assert_eq!(
            plan.create,
            vec![
                acl("A.orders", Pat::Literal, Perm::Allow, Op::Read),
                acl("A.orders", Pat::Literal, Perm::Allow, Op::Describe),
            ]
        );
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn prefixed_and_other_patterns_are_dropped() {
        let src = [
            acl("ord", Pat::Prefixed, Perm::Allow, Op::Read),
            acl("orders", Pat::Unknown(9), Perm::Allow, Op::Read),
        ];
        assert!(plan_acls(&src, &[], &topics()).create.is_empty());
    }

    #[test]
    fn allow_write_is_dropped_and_deny_entries_are_kept() {
        let src = [
            acl("orders", Pat::Literal, Perm::Allow, Op::Write),
            acl("orders", Pat::Literal, Perm::Deny, Op::Write),
            acl("orders", Pat::Literal, Perm::Deny, Op::All),
        ];
        assert_eq!(
            plan_acls(&src, &[], &topics()).create,
            vec![
                acl("A.orders", Pat::Literal, Perm::Deny, Op::Write),
                acl("A.orders", Pat::Literal, Perm::Deny, Op::All),
            ]
        );
    }

    #[test]
    fn the_dry_run_says_which_acls_would_be_added_where() {
        let src = [
            acl("orders", Pat::Literal, Perm::Allow, Op::All),
            acl("orders", Pat::Literal, Perm::Allow, Op::Read),
        ];
        let lines = dry_run_lines(&plan_acls(&src, &[], &topics()), "B");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("would add ACL "), "{lines:?}");
        assert!(
            lines[0].contains("A.orders") && lines[0].ends_with(" on B"),
            "{lines:?}"
        );
        assert!(lines[0].contains("User:alice"), "{lines:?}");
    }

    #[test]
    fn allow_all_becomes_allow_read() {
        let src = [acl("orders", Pat::Literal, Perm::Allow, Op::All)];
        assert_eq!(
            plan_acls(&src, &[], &topics()).create,
            vec![acl("A.orders", Pat::Literal, Perm::Allow, Op::Read)]
        );
    }

    #[test]
    fn acls_of_topics_the_flow_does_not_replicate_are_dropped() {
        let mut t = topics();
        t.filter = TopicFilter::new(&["orders", "payments"], &["payments"]).unwrap();
        let src = [
            acl("orders", Pat::Literal, Perm::Allow, Op::Read),
            acl("payments", Pat::Literal, Perm::Allow, Op::Read), // excluded
            acl("audit", Pat::Literal, Perm::Allow, Op::Read),    // not included
            acl("B.orders", Pat::Literal, Perm::Allow, Op::Read), // cycle
            acl("__consumer_offsets", Pat::Literal, Perm::Allow, Op::Read), // internal
        ];
        assert_eq!(
            plan_acls(&src, &[], &t).create,
            vec![acl("A.orders", Pat::Literal, Perm::Allow, Op::Read)]
        );
    }

    #[test]
    fn literal_wildcard_becomes_the_source_prefixed_literal_with_a_warning() {
        let src = [acl("*", Pat::Literal, Perm::Allow, Op::Read)];
        let plan = plan_acls(&src, &[], &topics());
        assert_eq!(
            plan.create,
            vec![acl("A.*", Pat::Literal, Perm::Allow, Op::Read)]
        );
        assert_eq!(plan.warnings.len(), 1);
        assert!(
            plan.warnings[0].contains("matches no topic"),
            "{:?}",
            plan.warnings
        );
        // The identity policy keeps `*`, which then applies to every target topic.
        let mut t = topics();
        t.policy = ReplicationPolicy::identity(Some("A"));
        let plan = plan_acls(&src, &[], &t);
        assert_eq!(
            plan.create,
            vec![acl("*", Pat::Literal, Perm::Allow, Op::Read)]
        );
        assert!(
            plan.warnings[0].contains("every topic on B"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn bindings_already_on_the_target_and_duplicates_are_not_sent() {
        let src = [
            acl("orders", Pat::Literal, Perm::Allow, Op::All),
            acl("orders", Pat::Literal, Perm::Allow, Op::Read),
            acl("events", Pat::Literal, Perm::Allow, Op::Read),
        ];
        let target = [acl("A.events", Pat::Literal, Perm::Allow, Op::Read)];
        assert_eq!(
            plan_acls(&src, &target, &topics()).create,
            vec![acl("A.orders", Pat::Literal, Perm::Allow, Op::Read)]
        );
    }

    #[test]
    fn only_topic_resources_are_synced() {
        let mut g = acl("orders", Pat::Literal, Perm::Allow, Op::Read);
        g.resource_type = ResourceType::Group;
        assert!(plan_acls(&[g], &[], &topics()).create.is_empty());
        let f = topic_acl_filter();
        assert_eq!(f.resource_type, ResourceType::Topic);
        assert_eq!(f.pattern_type, PatternType::Any);
        assert_eq!(f.operation, AclOperation::Any);
        assert_eq!(f.permission, AclPermissionType::Any);
        assert!(f.resource_name.is_none() && f.principal.is_none() && f.host.is_none());
    }

    #[test]
    fn bindings_read_like_kafka_acls() {
        assert_eq!(
            describe_binding(&acl(
                "A.orders",
                Pat::Literal,
                Perm::Allow,
                Op::DescribeConfigs
            )),
            "ALLOW DESCRIBE_CONFIGS on TOPIC A.orders (LITERAL) for User:alice from *"
        );
    }
}
