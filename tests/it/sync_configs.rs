//! Topic-config sync, partition growth and ACL sync (issue 7) on real brokers,
//! and, where tansu 0.6.0 lacks the API, at protocol level: the exact requests
//! kmirror sends, as a broker decodes them, and kmirror's handling of
//! Kafka-shaped answers (built from Kafka's schemas and error messages, decoded
//! by kmirror's codec). Each gap is reported with `not_run`.
//!
//! Against Apache Kafka (`KMIRROR_TEST_BOOTSTRAP`, `KMIRROR_TEST_BOOTSTRAP_2`)
//! the same tests run with MM2's default `use.defaults.from = target`, and the
//! partition, legacy AlterConfigs, refused-key and ACL checks run for real.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kmirror::config::{Origin, UseDefaultsFrom};
use kmirror::engine::FlowPlan;
use kmirror::sync::acls::{self, AclSync, plan_acls, topic_acl_filter};
use kmirror::sync::topics::{self, FlowTopics, Retry, after_rejection};
use kmirror_protocol::client::api::acls::{
    AclBinding, AclOperation, AclPermissionType, PatternType, ResourceType, create_acls_request,
    create_acls_results, describe_acls_request, describe_acls_results,
};
use kmirror_protocol::client::api::configs::{
    AlterOp, ConfigSource, alter_configs_request, alter_configs_results, incremental_alter_request,
    incremental_alter_results,
};
use kmirror_protocol::client::api::topics::{
    NewTopic, create_partitions_request, create_partitions_results, create_topics_request,
    create_topics_results,
};
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::codec::{decode_response, encode_request};
use kmirror_protocol::error::ResponseError;
use kmirror_protocol::kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ApiKey, CreateAclsRequest, CreateAclsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DescribeAclsRequest, DescribeAclsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, RequestHeader, ResponseHeader, TopicName,
};
use kmirror_protocol::kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Request, StrBytes,
};
use kmirror_protocol::versions::ours;
use serde_json::json;

use crate::forward::{Running, fast_plan, wait_for_records};
use crate::harness::{Broker, not_run, oracle, topic_name};
use crate::protocol::{client, sample_records};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `use.defaults.from` for a flow whose source is `source`.
///
/// tansu 0.6.0 reports the configs set on a topic with config source
/// DEFAULT_CONFIG (IsDefault true) and omits the rest. Under MM2's default
/// (`target`) those would be DELETEs on the target and absent from creation,
/// so nothing would be copied; with `source` they are copied as values, which
/// is what the test means to check. Against Apache Kafka, topic overrides are
/// DYNAMIC_TOPIC_CONFIG and the tests run with MM2's default.
fn defaults_from(source: &Broker) -> UseDefaultsFrom {
    if source.is_tansu() {
        UseDefaultsFrom::Source
    } else {
        UseDefaultsFrom::Target
    }
}

/// A fast flow A->B whose MM2 settings are changed by `edit`.
fn sync_plan(
    a: &Broker,
    b: &Broker,
    edit: impl FnOnce(&mut kmirror::config::FlowConfig),
) -> FlowPlan {
    let mut plan = fast_plan(a, "A", b, "B");
    let mut cfg = (*plan.config.clone().expect("MM2 defaults parse")).clone();
    cfg.use_defaults_from = defaults_from(a);
    cfg.emit_heartbeats_enabled = false;
    cfg.emit_checkpoints_enabled = false;
    edit(&mut cfg);
    plan.config = Some(Arc::new(cfg));
    plan
}

/// Only this test's topics replicate (external clusters hold other tests' topics).
fn only(plan: &mut FlowPlan, topics: &[&str]) {
    let items: Vec<String> = topics.iter().map(|t| regex_escape(t)).collect();
    plan.topic_filter = kmirror::policy::TopicFilter::new(&items, &[] as &[&str]).unwrap();
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

async fn create_with(c: &Client, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let r = c
        .create_topics(
            &[NewTopic {
                name: topic.into(),
                num_partitions: partitions,
                replication_factor: -1,
                configs: configs
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    r[0].1.as_ref().expect("topic created");
}

/// The configs set on `topic` itself: DYNAMIC_TOPIC_CONFIG on Kafka; on tansu
/// every reported entry (it reports only what was set, tagged as default).
async fn set_on(c: &Client, b: &Broker, topic: &str) -> BTreeMap<String, String> {
    let d = c.describe_topic_configs(&[topic.to_owned()]).await.unwrap();
    let entries = d[0].entries.as_ref().expect("describe").clone();
    entries
        .into_iter()
        .filter(|e| b.is_tansu() || e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}

async fn alter(c: &Client, topic: &str, ops: Vec<AlterOp>) {
    let r = c
        .incremental_alter_topic_configs(&[(topic.to_owned(), ops)], false)
        .await
        .unwrap();
    r[0].1.as_ref().expect("config altered");
}

/// Polls `check` until it is true or `within` has passed; returns the time taken.
async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        if check().await {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn exists(c: &Client, topic: &str) -> bool {
    c.list_topics()
        .await
        .map(|t| t.contains_key(topic))
        .unwrap_or(false)
}

/// Encodes `req` as kmirror sends it and decodes it as a broker does.
fn as_broker_reads<R: Request + Decodable>(version: i16, req: &R) -> R {
    let frame = encode_request(7, Some("kmirror"), version, req).expect("encodes");
    let mut buf = frame.slice(4..);
    let header = RequestHeader::decode(&mut buf, R::header_version(version)).expect("header");
    assert_eq!(header.request_api_key, R::KEY);
    assert_eq!(header.request_api_version, version);
    let back = R::decode(&mut buf, version).expect("body");
    assert!(buf.is_empty(), "{:?} v{version}: trailing bytes", R::KEY);
    back
}

/// Encodes a broker's answer and decodes it with kmirror's codec.
fn as_kmirror_reads<R: Request>(version: i16, resp: &R::Response) -> R::Response
where
    R::Response: Encodable,
{
    let mut b = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(7)
        .encode(
            &mut b,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .expect("header");
    resp.encode(&mut b, version).expect("body");
    decode_response::<R>(version, Bytes::from(b)).expect("kmirror decodes")
}

/// Every version kmirror speaks for `api` (the one negotiated with any Kafka is among them).
fn versions(api: ApiKey) -> std::ops::RangeInclusive<i16> {
    let r = ours(api);
    r.min..=r.max
}

fn msg(s: &str) -> Option<StrBytes> {
    Some(StrBytes::from_string(s.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Topic configs on a real broker
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_configs_appear_on_the_remote_topic_at_creation() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-create");
    create_with(
        &ca,
        &t,
        2,
        &[
            ("retention.ms", "3600000"),
            ("cleanup.policy", "compact"),
            ("max.message.bytes", "2000000"),
            // In MM2's default config.properties.exclude: never copied.
            ("min.insync.replicas", "1"),
        ],
    )
    .await;
    // Periodic sync off: whatever the remote topic has, it got at creation.
    let mut plan = sync_plan(&a, &b, |c| c.sync_topic_configs_enabled = false);
    only(&mut plan, &[&t]);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_until(Duration::from_secs(30), "remote topic created", || {
        exists(&cb, &remote)
    })
    .await;
    let got = set_on(&cb, &b, &remote).await;
    flow.stop().await;
    for (k, v) in [
        ("retention.ms", "3600000"),
        ("cleanup.policy", "compact"),
        ("max.message.bytes", "2000000"),
    ] {
        assert_eq!(
            got.get(k).map(String::as_str),
            Some(v),
            "{k} on {remote}: {got:?}"
        );
    }
    assert!(
        !got.contains_key("min.insync.replicas"),
        "excluded key copied: {got:?}"
    );
    let meta = cb.list_topics().await.unwrap();
    assert_eq!(meta[&remote].partitions.len(), 2, "same partition count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_config_change_reaches_the_target_within_one_interval() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-change");
    create_with(&ca, &t, 1, &[("retention.ms", "1000000")]).await;
    let interval = Duration::from_secs(1);
    let mut plan = sync_plan(&a, &b, |c| c.sync_topic_configs_interval = interval);
    only(&mut plan, &[&t]);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_until(
        Duration::from_secs(30),
        "remote topic with configs",
        || async {
            exists(&cb, &remote).await
                && set_on(&cb, &b, &remote)
                    .await
                    .get("retention.ms")
                    .map(String::as_str)
                    == Some("1000000")
        },
    )
    .await;
    alter(
        &ca,
        &t,
        vec![
            AlterOp::set("retention.ms", "2000000"),
            AlterOp::set("segment.ms", "7200000"),
        ],
    )
    .await;
    // One interval, plus the pass itself (two DescribeConfigs and one
    // IncrementalAlterConfigs on 127.0.0.1) and slack for a loaded machine.
    let took = wait_until(
        interval + Duration::from_secs(2),
        "change synced",
        || async {
            let got = set_on(&cb, &b, &remote).await;
            got.get("retention.ms").map(String::as_str) == Some("2000000")
                && got.get("segment.ms").map(String::as_str) == Some("7200000")
        },
    )
    .await;
    eprintln!("source config change reached the target after {took:?}");
    flow.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_keys_on_the_target_are_left_alone_and_overrides_reverted() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-exclude");
    create_with(
        &ca,
        &t,
        1,
        &[
            ("retention.ms", "1000000"),
            ("message.timestamp.type", "LogAppendTime"),
        ],
    )
    .await;
    let interval = Duration::from_secs(1);
    let mut plan = sync_plan(&a, &b, |c| c.sync_topic_configs_interval = interval);
    only(&mut plan, &[&t]);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_until(
        Duration::from_secs(30),
        "remote topic with configs",
        || async {
            exists(&cb, &remote).await
                && set_on(&cb, &b, &remote)
                    .await
                    .get("retention.ms")
                    .map(String::as_str)
                    == Some("1000000")
        },
    )
    .await;
    // Operators change the remote topic: one excluded key, one synced key.
    alter(
        &cb,
        &remote,
        vec![
            AlterOp::set("min.insync.replicas", "1"),
            AlterOp::set("retention.ms", "5000"),
        ],
    )
    .await;
    wait_until(
        interval + Duration::from_secs(2),
        "override reverted",
        || async {
            set_on(&cb, &b, &remote)
                .await
                .get("retention.ms")
                .map(String::as_str)
                == Some("1000000")
        },
    )
    .await;
    // Two more passes: the excluded key stays as the operator set it.
    tokio::time::sleep(2 * interval).await;
    let got = set_on(&cb, &b, &remote).await;
    flow.stop().await;
    assert_eq!(
        got.get("min.insync.replicas").map(String::as_str),
        Some("1"),
        "{got:?}"
    );
    assert_ne!(
        got.get("message.timestamp.type").map(String::as_str),
        Some("LogAppendTime"),
        "excluded source key copied: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_changes_nothing() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t1 = topic_name("dry-existing");
    let t2 = topic_name("dry-new");
    create_with(&ca, &t1, 3, &[("retention.ms", "3600000")]).await;
    create_with(&ca, &t2, 2, &[("retention.ms", "7200000")]).await;
    let r1 = format!("A.{t1}");
    let r2 = format!("A.{t2}");
    create_with(&cb, &r1, 1, &[("retention.ms", "5000")]).await;
    let before = set_on(&cb, &b, &r1).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mm2.properties");
    let defaults = match defaults_from(&a) {
        UseDefaultsFrom::Source => "source",
        _ => "target",
    };
    std::fs::write(
        &cfg,
        format!(
            "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
             A->B.enabled = true\nA->B.topics = {}, {}\n\
             # tansu reports set configs as defaults: see defaults_from in the test\n\
             A->B.use.defaults.from = {defaults}\nreplication.factor = -1\n",
            a.bootstrap,
            b.bootstrap,
            // Topic names are letters, digits and '-': literal in a regex.
            t1,
            t2
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .arg("check")
        .arg(&cfg)
        .arg("--connect")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    for want in [
        "flow A->B: dry run, nothing is changed".to_owned(),
        format!("would set retention.ms=3600000 on B: {r1} (now 5000)"),
        format!("would grow {r1} 1 -> 3 partitions"),
        format!("would create {r2} on B with 2 partitions and "),
        "retention.ms=7200000".to_owned(),
    ] {
        assert!(stdout.contains(&want), "missing {want:?} in:\n{stdout}");
    }
    // Nothing changed on the target.
    assert!(!exists(&cb, &r2).await, "dry run created {r2}");
    assert_eq!(set_on(&cb, &b, &r1).await, before);
    assert_eq!(cb.list_topics().await.unwrap()[&r1].partitions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_say_when_they_last_succeeded() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-report");
    create_with(&ca, &t, 1, &[("retention.ms", "1000000")]).await;
    create_with(&cb, &format!("A.{t}"), 1, &[]).await;
    let mut plan = sync_plan(&a, &b, |_| {});
    only(&mut plan, &[&t]);
    let cfg = plan.config.clone().unwrap();
    let flow_topics = FlowTopics {
        source_alias: "A".into(),
        target_alias: "B".into(),
        policy: plan.policy.clone(),
        filter: plan.topic_filter.clone(),
        heartbeats_replication_enabled: true,
    };
    let settings = topics::ConfigSyncSettings::from_flow(&cfg).unwrap();
    let mut sync =
        topics::TopicConfigSync::new(flow_topics.clone(), settings, ca.clone(), cb.clone());
    let first = sync.sync_once().await;
    assert!(first.succeeded(), "{:?}", first.rejected);
    assert_eq!(first.last_success, Some(first.when));
    assert!(
        first
            .applied
            .iter()
            .any(|x| x.resource == format!("A.{t}") && x.change == "set retention.ms=1000000"),
        "{:?}",
        first.applied
    );
    let second = sync.sync_once().await;
    assert!(
        second.applied.is_empty(),
        "nothing left to change: {:?}",
        second.applied
    );
    assert!(second.last_success > first.last_success);
    // ACL sync on the same brokers: tansu stores no ACLs, so the pass reads
    // none and succeeds without creating any.
    let mut acl = AclSync::new(flow_topics, ca.clone(), cb.clone());
    let r = acl.sync_once().await;
    if a.is_tansu() {
        assert!(r.succeeded() && r.applied.is_empty(), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Refused keys: tansu accepts any key, Kafka refuses unknown ones
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_target_refuses_is_dropped_named_and_the_rest_applied() {
    // tansu as the source (it stores any key, like a newer Kafka would); the
    // target is Apache Kafka when KMIRROR_TEST_BOOTSTRAP_2 is set.
    let a = Broker::spawn_tansu();
    let b = Broker::start(2);
    if b.is_tansu() {
        not_run(
            "sync_configs::a_key_the_target_refuses_is_dropped_named_and_the_rest_applied",
            "a target that refuses unknown config keys with INVALID_CONFIG (tansu accepts any key)",
            "sync_configs::refused_keys_at_protocol_level and sync::topics::tests::invalid_config_names_the_keys_to_drop",
        );
        return;
    }
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-refused");
    create_with(
        &ca,
        &t,
        1,
        &[("retention.ms", "3600000"), ("kmirror.test.unknown", "x")],
    )
    .await;
    let settings = topics::ConfigSyncSettings {
        use_defaults_from: UseDefaultsFrom::Source,
        ..Default::default()
    };
    let remote = format!("A.{t}");
    let created = topics::create_remote_topic(&ca, &cb, "A->B", &t, &remote, 1, -1, &settings)
        .await
        .expect("created without the refused key");
    assert!(created.created);
    assert_eq!(created.dropped.len(), 1);
    assert_eq!(
        created.dropped[0].key.as_deref(),
        Some("kmirror.test.unknown")
    );
    assert!(
        created.dropped[0].reason.contains("INVALID_CONFIG"),
        "{:?}",
        created.dropped
    );
    assert_eq!(
        set_on(&cb, &b, &remote)
            .await
            .get("retention.ms")
            .map(String::as_str),
        Some("3600000")
    );
}

#[test]
fn refused_keys_at_protocol_level() {
    // Kafka's answers when a topic config key is unknown (LogConfig.validateNames).
    let topic = NewTopic {
        name: "A.orders".into(),
        num_partitions: 3,
        replication_factor: -1,
        configs: vec![
            ("retention.ms".into(), "1000".into()),
            ("bogus.key".into(), "x".into()),
        ],
    };
    for v in versions(ApiKey::CreateTopics) {
        let req = as_broker_reads(
            v,
            &create_topics_request(std::slice::from_ref(&topic), 30_000, false),
        );
        let t = &req.topics[0];
        assert_eq!(t.name.0.as_str(), "A.orders");
        assert_eq!((t.num_partitions, t.replication_factor), (3, -1));
        let sent: Vec<(&str, Option<&str>)> = t
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str())))
            .collect();
        assert_eq!(
            sent,
            vec![("retention.ms", Some("1000")), ("bogus.key", Some("x"))]
        );
        let mut answer = CreateTopicsResponse::default();
        let mut r = kmirror_protocol::kafka_protocol::messages::create_topics_response::CreatableTopicResult::default()
            .with_name(TopicName(StrBytes::from_static_str("A.orders")))
            .with_error_code(ResponseError::InvalidConfig.code());
        if v >= 1 {
            r = r.with_error_message(msg("Unknown topic config name: bogus.key"));
        }
        answer.topics.push(r);
        let back = as_kmirror_reads::<CreateTopicsRequest>(v, &answer);
        let res = create_topics_results(std::slice::from_ref(&topic), &back, "1@kafka:9092");
        let err = res[0].1.as_ref().expect_err("refused");
        let keys = ["retention.ms", "bogus.key"];
        let want = if v >= 1 {
            Retry::Without(vec!["bogus.key".into()])
        } else {
            // v0 carries no message: each key is validated alone instead.
            Retry::Probe
        };
        assert_eq!(after_rejection(err, &keys), want, "CreateTopics v{v}");
    }
    let ops = vec![(
        "A.orders".to_owned(),
        vec![
            AlterOp::set("retention.ms", "1000"),
            AlterOp::delete("cleanup.policy"),
            AlterOp::set("bogus.key", "x"),
        ],
    )];
    for v in versions(ApiKey::IncrementalAlterConfigs) {
        let req = as_broker_reads(v, &incremental_alter_request(&ops, false));
        let r = &req.resources[0];
        assert_eq!((r.resource_type, r.resource_name.as_str()), (2, "A.orders"));
        let sent: Vec<(&str, i8, Option<&str>)> = r
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.as_str()),
                )
            })
            .collect();
        assert_eq!(
            sent,
            vec![
                ("retention.ms", 0, Some("1000")),
                ("cleanup.policy", 1, None),
                ("bogus.key", 0, Some("x"))
            ]
        );
        let answer = IncrementalAlterConfigsResponse::default().with_responses(vec![
            kmirror_protocol::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("A.orders"))
                .with_error_code(ResponseError::InvalidConfig.code())
                .with_error_message(msg("Unknown topic config name: bogus.key")),
        ]);
        let back = as_kmirror_reads::<IncrementalAlterConfigsRequest>(v, &answer);
        let res = incremental_alter_results(&ops, &back, "1@kafka:9092");
        let err = res[0].1.as_ref().expect_err("refused");
        assert_eq!(
            after_rejection(err, &["retention.ms", "cleanup.policy", "bogus.key"]),
            Retry::Without(vec!["bogus.key".into()])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Legacy AlterConfigs: tansu lacks it
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_alter_configs_syncs_when_incremental_is_never() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    if b.is_tansu() {
        not_run(
            "sync_configs::legacy_alter_configs_syncs_when_incremental_is_never",
            "the legacy AlterConfigs API (use.incremental.alter.configs=never)",
            "sync_configs::legacy_alter_configs_at_protocol_level and sync::topics::tests::legacy_sends_the_whole_config_and_resets_excluded_target_overrides",
        );
        return;
    }
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("cfg-legacy");
    create_with(&ca, &t, 1, &[("retention.ms", "1000000")]).await;
    let interval = Duration::from_secs(1);
    let mut plan = sync_plan(&a, &b, |c| {
        c.sync_topic_configs_interval = interval;
        c.settings.insert(
            "use.incremental.alter.configs".into(),
            ("never".into(), Origin::Default),
        );
    });
    only(&mut plan, &[&t]);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_until(Duration::from_secs(30), "remote topic", || {
        exists(&cb, &remote)
    })
    .await;
    // An excluded key set on the target: AlterConfigs replaces the whole config.
    alter(&cb, &remote, vec![AlterOp::set("min.insync.replicas", "1")]).await;
    alter(&ca, &t, vec![AlterOp::set("retention.ms", "2000000")]).await;
    wait_until(interval + Duration::from_secs(2), "legacy sync", || async {
        let got = set_on(&cb, &b, &remote).await;
        got.get("retention.ms").map(String::as_str) == Some("2000000")
            && !got.contains_key("min.insync.replicas")
    })
    .await;
    flow.stop().await;
}

#[test]
fn legacy_alter_configs_at_protocol_level() {
    let whole = vec![(
        "A.orders".to_owned(),
        vec![
            ("cleanup.policy".to_owned(), "compact".to_owned()),
            ("retention.ms".to_owned(), "1000".to_owned()),
        ],
    )];
    for v in versions(ApiKey::AlterConfigs) {
        let req = as_broker_reads(v, &alter_configs_request(&whole));
        assert!(!req.validate_only);
        let r = &req.resources[0];
        assert_eq!((r.resource_type, r.resource_name.as_str()), (2, "A.orders"));
        let sent: Vec<(&str, Option<&str>)> = r
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str())))
            .collect();
        assert_eq!(
            sent,
            vec![
                ("cleanup.policy", Some("compact")),
                ("retention.ms", Some("1000"))
            ]
        );
        use kmirror_protocol::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse as R;
        // Accepted.
        let ok = AlterConfigsResponse::default().with_responses(vec![
            R::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("A.orders")),
        ]);
        let res = alter_configs_results(
            &whole,
            &as_kmirror_reads::<AlterConfigsRequest>(v, &ok),
            "1@kafka:9092",
        );
        assert!(res[0].1.is_ok());
        // Refused by value (Kafka's ConfigException text), then not answered at all.
        let bad = AlterConfigsResponse::default().with_responses(vec![
            R::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("A.orders"))
                .with_error_code(ResponseError::InvalidConfig.code())
                .with_error_message(msg(
                    "Invalid value x for configuration retention.ms: Not a number of type LONG",
                )),
        ]);
        let res = alter_configs_results(
            &whole,
            &as_kmirror_reads::<AlterConfigsRequest>(v, &bad),
            "1@kafka:9092",
        );
        let err = res[0].1.as_ref().expect_err("refused");
        assert!(err.to_string().contains("INVALID_CONFIG"), "{err}");
        assert_eq!(
            after_rejection(err, &["cleanup.policy", "retention.ms"]),
            Retry::Without(vec!["retention.ms".into()])
        );
        let none = AlterConfigsResponse::default();
        let res = alter_configs_results(
            &whole,
            &as_kmirror_reads::<AlterConfigsRequest>(v, &none),
            "1@kafka:9092",
        );
        assert!(matches!(
            res[0].1,
            Err(ClientError::MissingInResponse { .. })
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Partitions: tansu lacks CreatePartitions
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_topic_grows_with_the_source_and_new_partitions_replicate_from_the_start() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    if a.is_tansu() || b.is_tansu() {
        not_run(
            "sync_configs::remote_topic_grows_with_the_source_and_new_partitions_replicate_from_the_start",
            "CreatePartitions",
            "sync_configs::partition_growth_at_protocol_level and sync::topics::tests::partitions_are_created_grown_and_never_shrunk",
        );
        return;
    }
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("grow");
    create_with(&ca, &t, 2, &[]).await;
    let before = sample_records(20, 2);
    let r = oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": before}),
    );
    assert_eq!(r["errors"], json!([]));
    let mut plan = sync_plan(&a, &b, |_| {});
    only(&mut plan, &[&t]);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    assert_eq!(wait_for_records(&b, &remote, 2, 20).await.len(), 20);
    let g = ca
        .create_partitions(&[(t.clone(), 4)], 30_000)
        .await
        .unwrap();
    g[0].1.as_ref().expect("source grown");
    // Written to the new partitions before kmirror's next refresh notices them.
    let after = sample_records(40, 4);
    let r = oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": after}),
    );
    assert_eq!(r["errors"], json!([]));
    let got = wait_for_records(&b, &remote, 4, 60).await;
    flow.stop().await;
    assert_eq!(cb.list_topics().await.unwrap()[&remote].partitions.len(), 4);
    assert_eq!(got.len(), 60);
    for p in [2, 3] {
        assert_eq!(
            got.iter().filter(|r| r["partition"] == p).count(),
            10,
            "partition {p}"
        );
    }
}

/// A remote topic that cannot grow (tansu has no CreatePartitions; on Kafka an
/// ACL could refuse it) must not stop discovery: topics after it still start,
/// and its existing partitions still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_topic_that_cannot_grow_holds_up_nothing_else() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let t = topic_name("nogrow");
    let (first, second) = (format!("{t}-a"), format!("{t}-b"));
    create_with(&ca, &first, 2, &[]).await;
    create_with(&ca, &second, 1, &[]).await;
    // The remote of the first topic already exists with fewer partitions.
    create_with(&cb, &format!("A.{first}"), 1, &[]).await;
    let one = sample_records(20, 2);
    let two = sample_records(10, 1);
    for (topic, recs) in [(&first, &one), (&second, &two)] {
        let r = oracle::call(
            &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": topic, "records": recs}),
        );
        assert_eq!(r["errors"], json!([]));
    }
    let mut plan = sync_plan(&a, &b, |_| {});
    only(&mut plan, &[&first, &second]);
    let flow = Running::start(plan);
    // The topic sorted after the one that cannot grow replicates in full.
    assert_eq!(
        wait_for_records(&b, &format!("A.{second}"), 1, 10)
            .await
            .len(),
        10
    );
    let refused = b.is_tansu();
    let (parts, want) = if refused { (1, 10) } else { (2, 20) };
    let got = wait_for_records(&b, &format!("A.{first}"), parts, want).await;
    flow.stop().await;
    if refused {
        eprintln!(
            "tansu refuses CreatePartitions: partition 0 of {first} replicated, partition 1 waits"
        );
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|r| r["partition"] == 0), "{got:?}");
    } else {
        assert_eq!(got.len(), 20);
    }
}

#[test]
fn partition_growth_at_protocol_level() {
    let counts = vec![("A.orders".to_owned(), 6)];
    for v in versions(ApiKey::CreatePartitions) {
        let req = as_broker_reads(v, &create_partitions_request(&counts, 30_000));
        assert_eq!(req.timeout_ms, 30_000);
        assert!(!req.validate_only);
        let t = &req.topics[0];
        assert_eq!((t.name.0.as_str(), t.count), ("A.orders", 6));
        assert!(t.assignments.is_none(), "placement left to the broker");
        use kmirror_protocol::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult as R;
        let ok = CreatePartitionsResponse::default().with_results(vec![
            R::default().with_name(TopicName(StrBytes::from_static_str("A.orders"))),
        ]);
        let res = create_partitions_results(
            &counts,
            &as_kmirror_reads::<CreatePartitionsRequest>(v, &ok),
            "1@kafka:9092",
        );
        assert!(res[0].1.is_ok());
        // Kafka's answer when the topic already has more partitions (a race
        // with another replicator): reported, never a shrink.
        let more = CreatePartitionsResponse::default().with_results(vec![
            R::default()
                .with_name(TopicName(StrBytes::from_static_str("A.orders")))
                .with_error_code(ResponseError::InvalidPartitions.code())
                .with_error_message(msg(
                    "Topic currently has 8 partitions, which is higher than the requested 6.",
                )),
        ]);
        let res = create_partitions_results(
            &counts,
            &as_kmirror_reads::<CreatePartitionsRequest>(v, &more),
            "1@kafka:9092",
        );
        let err = res[0].1.as_ref().expect_err("refused");
        assert_eq!(err.code(), Some(ResponseError::InvalidPartitions));
        assert!(err.to_string().contains("INVALID_PARTITIONS"), "{err}");
    }
    assert_eq!(
        topics::plan_partitions(6, Some(8)),
        topics::PartitionPlan::Keep
    );
}

// ---------------------------------------------------------------------------------------------
// ACLs: tansu stores none (and its CreateAcls v3 answer does not decode)
// ---------------------------------------------------------------------------------------------

fn binding(
    name: &str,
    pattern: PatternType,
    perm: AclPermissionType,
    op: AclOperation,
    who: &str,
) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: who.into(),
        host: "*".into(),
        operation: op,
        permission: perm,
    }
}

fn acl_flow_topics(topic_filter: kmirror::policy::TopicFilter) -> FlowTopics {
    FlowTopics {
        source_alias: "A".into(),
        target_alias: "B".into(),
        policy: kmirror::policy::ReplicationPolicy::default(),
        filter: topic_filter,
        heartbeats_replication_enabled: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_are_copied_to_remote_topics() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (client(&a).await, client(&b).await);
    let probe = ca.describe_acls(topic_acl_filter()).await;
    let no_authorizer =
        matches!(&probe, Err(e) if e.code() == Some(ResponseError::SecurityDisabled));
    if b.is_tansu() {
        // tansu 0.6.0 answers CreateAcls with a frame that does not decode: the
        // failure must stay an error of that one call (the ACL sync reports it
        // and retries next interval), not a panic or a dead connection.
        let one = binding(
            "t",
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::Read,
            "User:x",
        );
        let r = cb.create_acls(&[one]).await;
        eprintln!("tansu CreateAcls answer as kmirror sees it: {r:?}");
        assert!(
            r.is_err() || r.as_ref().is_ok_and(|v| v.iter().all(Result::is_err)),
            "{r:?}"
        );
        assert!(cb.list_topics().await.is_ok(), "connection still usable");
    }
    if a.is_tansu() || b.is_tansu() || no_authorizer {
        not_run(
            "sync_configs::acls_are_copied_to_remote_topics",
            "stored ACLs (an authorizer) on both clusters",
            "sync_configs::acl_sync_at_protocol_level and sync::acls::tests",
        );
        return;
    }
    let t = topic_name("acl");
    let who = format!("User:{}", topic_name("kmirror-test"));
    let src = vec![
        binding(
            &t,
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::All,
            &who,
        ),
        binding(
            &t,
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::Write,
            &who,
        ),
        binding(
            &t,
            PatternType::Prefixed,
            AclPermissionType::Allow,
            AclOperation::Read,
            &who,
        ),
        binding(
            &t,
            PatternType::Literal,
            AclPermissionType::Deny,
            AclOperation::Delete,
            &who,
        ),
    ];
    for r in ca.create_acls(&src).await.unwrap() {
        r.expect("source ACL created");
    }
    let filter = kmirror::policy::TopicFilter::new(&[regex_escape(&t)], &[] as &[&str]).unwrap();
    let mut sync = AclSync::new(acl_flow_topics(filter), ca.clone(), cb.clone());
    let r = sync.sync_once().await;
    assert!(r.succeeded(), "{:?}", r.rejected);
    let on_b: Vec<AclBinding> = cb
        .describe_acls(topic_acl_filter())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.principal == who)
        .collect();
    let remote = format!("A.{t}");
    let mut want = vec![
        binding(
            &remote,
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::Read,
            &who,
        ),
        binding(
            &remote,
            PatternType::Literal,
            AclPermissionType::Deny,
            AclOperation::Delete,
            &who,
        ),
    ];
    let mut got = on_b.clone();
    let key = |x: &AclBinding| format!("{x:?}");
    want.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, want);
    // A second pass adds nothing.
    assert!(sync.sync_once().await.applied.is_empty());
}

#[test]
fn acl_sync_at_protocol_level() {
    // What kmirror asks the source for.
    for v in versions(ApiKey::DescribeAcls) {
        let req = as_broker_reads(v, &describe_acls_request(&topic_acl_filter()));
        assert_eq!(req.resource_type_filter, 2, "TOPIC");
        assert!(req.resource_name_filter.is_none());
        assert!(req.principal_filter.is_none() && req.host_filter.is_none());
        assert_eq!((req.operation, req.permission_type), (1, 1), "ANY, ANY");
        if v >= 1 {
            assert_eq!(req.pattern_type_filter, 1, "ANY pattern");
        }
    }
    // A source's answer (DescribeAclsResponse v1+ schema): one resource per pattern.
    use kmirror_protocol::kafka_protocol::messages::describe_acls_response::{
        AclDescription, DescribeAclsResource,
    };
    let entry = |who: &str, op: i8, perm: i8| {
        AclDescription::default()
            .with_principal(StrBytes::from_string(who.to_owned()))
            .with_host(StrBytes::from_static_str("*"))
            .with_operation(op)
            .with_permission_type(perm)
    };
    let res = |name: &str, pattern: i8, acls: Vec<AclDescription>| {
        DescribeAclsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(name.to_owned()))
            .with_pattern_type(pattern)
            .with_acls(acls)
    };
    let answer = DescribeAclsResponse::default().with_resources(vec![
        // ALLOW ALL and ALLOW WRITE for alice, DENY WRITE for mallory on `orders`.
        res(
            "orders",
            3,
            vec![
                entry("User:alice", 2, 3),
                entry("User:alice", 4, 3),
                entry("User:mallory", 4, 2),
            ],
        ),
        res("ord", 4, vec![entry("User:bob", 3, 3)]),
        res("*", 3, vec![entry("User:carol", 8, 3)]),
        res("__consumer_offsets", 3, vec![entry("User:dave", 3, 3)]),
    ]);
    let v = ours(ApiKey::DescribeAcls).max.min(3);
    let bindings = describe_acls_results(
        &as_kmirror_reads::<DescribeAclsRequest>(v, &answer),
        "1@kafka:9092",
    )
    .expect("bindings");
    assert_eq!(bindings.len(), 6);
    let plan = plan_acls(&bindings, &[], &acl_flow_topics(Default::default()));
    let want = vec![
        binding(
            "A.orders",
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::Read,
            "User:alice",
        ),
        binding(
            "A.orders",
            PatternType::Literal,
            AclPermissionType::Deny,
            AclOperation::Write,
            "User:mallory",
        ),
        binding(
            "A.*",
            PatternType::Literal,
            AclPermissionType::Allow,
            AclOperation::Describe,
            "User:carol",
        ),
    ];
    assert_eq!(plan.create, want);
    assert_eq!(plan.warnings.len(), 1, "literal * warned about");
    // What kmirror asks the target to create.
    for v in versions(ApiKey::CreateAcls) {
        let req = as_broker_reads(v, &create_acls_request(&plan.create));
        let sent: Vec<(i8, &str, i8, &str, &str, i8, i8)> = req
            .creations
            .iter()
            .map(|c| {
                (
                    c.resource_type,
                    c.resource_name.as_str(),
                    c.resource_pattern_type,
                    c.principal.as_str(),
                    c.host.as_str(),
                    c.operation,
                    c.permission_type,
                )
            })
            .collect();
        let literal = 3;
        assert_eq!(
            sent,
            vec![
                (2, "A.orders", literal, "User:alice", "*", 3, 3),
                (2, "A.orders", literal, "User:mallory", "*", 4, 2),
                (2, "A.*", literal, "User:carol", "*", 8, 3),
            ],
            "CreateAcls v{v}"
        );
        // One binding accepted, one refused: the refusal is per binding.
        use kmirror_protocol::kafka_protocol::messages::create_acls_response::AclCreationResult as R;
        let answer = CreateAclsResponse::default().with_results(vec![
            R::default(),
            R::default()
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(msg("Invalid principal")),
        ]);
        let results = create_acls_results(
            &plan.create,
            &as_kmirror_reads::<CreateAclsRequest>(v, &answer),
            "1@kafka:9092",
        );
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().err().and_then(ClientError::code),
            Some(ResponseError::InvalidRequest)
        );
        assert!(matches!(
            results[2],
            Err(ClientError::MissingInResponse { .. })
        ));
    }
    // A source without an authorizer: the sync skips it (one log line).
    let disabled = DescribeAclsResponse::default()
        .with_error_code(ResponseError::SecurityDisabled.code())
        .with_error_message(msg("No Authorizer is configured."));
    let err = describe_acls_results(
        &as_kmirror_reads::<DescribeAclsRequest>(v, &disabled),
        "1@kafka:9092",
    )
    .expect_err("disabled");
    assert_eq!(err.code(), Some(ResponseError::SecurityDisabled));
    let _ = acls::describe_binding(&want[0]);
}

// ---------------------------------------------------------------------------------------------
// The leaf rule
// ---------------------------------------------------------------------------------------------

#[test]
fn sync_leaves_never_import_forward_or_engine() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sync");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for banned in ["crate::forward", "crate::engine", "crate::metrics"] {
            assert!(!text.contains(banned), "{} uses {banned}", path.display());
        }
    }
}
