//! The `kmirror` binary: `run` with signals and kill -9, `--clusters`, `check`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::forward::{assert_same, wait_for_records};
use crate::harness::{Broker, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

fn kmirror() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmirror"))
}

pub(crate) fn write_config(dir: impl AsRef<std::path::Path>, body: &str) -> std::path::PathBuf {
    let p = dir.as_ref().join("mm2.properties");
    std::fs::write(&p, body).unwrap();
    p
}

pub(crate) fn spawn_run(cfg: &std::path::Path, extra: &[&str]) -> Child {
    kmirror()
        .arg("run")
        .arg(cfg)
        .args(extra)
        .env(
            "RUST_LOG",
            std::env::var("KMIRROR_CHILD_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kmirror")
}

pub(crate) fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}

pub(crate) fn two_cluster_config(a: &Broker, b: &Broker) -> String {
    format!(
        "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\nA->B.enabled = true\n\
         refresh.topics.interval.seconds = 1\nB.offset.flush.interval.ms = 200\n",
        a.bootstrap, b.bootstrap
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_with_progress_saved_and_kill_9_loses_nothing() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("cli-kill");
    create(&client(&a).await, &t, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, &two_cluster_config(&a, &b));
    let recs = sample_records(400, 2);
    let (first, rest) = recs.split_at(150);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": first}));
    // Run, then SIGTERM: exit code 0 within 10 s.
    let mut child = spawn_run(&cfg, &[]);
    assert_same(
        &wait_for_records(&b, &format!("A.{t}"), 2, first.len()).await,
        first,
        2,
    );
    sigterm(&child);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    // Restart while more records arrive at ~50/s, kill -9 once some of them
    // were replicated (mid-way), restart: every record arrives.
    let producer = {
        let (bootstrap, topic, rest) = (a.bootstrap.clone(), t.clone(), rest.to_vec());
        std::thread::spawn(move || {
            oracle::call(
                &json!({"op": "produce", "bootstrap": bootstrap, "topic": topic,
                "records": rest, "flush_each": true, "sleep_each_ms": 20}),
            )
        })
    };
    let mut child = spawn_run(&cfg, &[]);
    let remote = format!("A.{t}");
    let mid = wait_for_records(&b, &remote, 2, first.len() + 40)
        .await
        .len();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        mid < recs.len(),
        "killed mid-way: {mid} of {} on the target",
        recs.len()
    );
    let produced = producer.join().expect("producer thread");
    assert_eq!(produced["errors"], json!([]));
    let mut child = spawn_run(&cfg, &[]);
    // Nothing lost; duplicates (bounded by one flush interval) are allowed
    // after kill -9, so wait for every distinct record, not for a count.
    let id = |r: &serde_json::Value| format!("{}/{}", r["partition"], r["value"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        // Ask for more than produced: duplicates must not hide a missing record.
        let out = oracle::call(
            &json!({"op": "consume", "bootstrap": b.bootstrap, "topic": format!("A.{t}"),
            "partitions": 2, "expect": recs.len() * 3, "timeout": 4}),
        );
        let got = out["records"].as_array().cloned().unwrap_or_default();
        let keys: std::collections::HashSet<String> = got.iter().map(id).collect();
        if recs.iter().all(|r| keys.contains(&id(r))) || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    sigterm(&child);
    child.wait().unwrap();
    let keys: std::collections::HashSet<String> = got.iter().map(id).collect();
    for r in &recs {
        assert!(keys.contains(&id(r)), "lost {r}");
    }
    let duplicates = got.len() - recs.len();
    eprintln!(
        "kill -9 mid-way ({mid} of {} replicated): {} records on target, {duplicates} duplicated",
        recs.len(),
        got.len(),
    );
    // The bound: what the killed process forwarded after its last progress
    // save (every B.offset.flush.interval.ms = 200 ms) plus its in-flight
    // window. Here it may have caught up on a backlog in a burst before its
    // first save, so at most everything it forwarded: the records produced
    // after the clean stop, never anything saved before it.
    assert!(
        duplicates <= rest.len(),
        "{duplicates} duplicates: more than the killed process forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_flag_limits_targets() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let c = Broker::start(3);
    let t = topic_name("cli-clusters");
    create(&client(&a).await, &t, 1).await;
    let recs = sample_records(20, 1);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": recs}));
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "clusters = A, B, C\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\nC.bootstrap.servers = {}\n\
             A->B.enabled = true\nA->C.enabled = true\nrefresh.topics.interval.seconds = 1\n",
            a.bootstrap, b.bootstrap, c.bootstrap
        ),
    );
    let mut child = spawn_run(&cfg, &["--clusters", "B"]);
    assert_same(
        &wait_for_records(&b, &format!("A.{t}"), 1, recs.len()).await,
        &recs,
        1,
    );
    std::thread::sleep(Duration::from_secs(2));
    let on_c: Vec<String> = client(&c)
        .await
        .list_topics()
        .await
        .unwrap()
        .into_keys()
        .collect();
    assert!(!on_c.iter().any(|x| x.contains(&t)), "C got data: {on_c:?}");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

#[test]
fn check_reports_every_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        "clusters = us-east, us-west\nus-east.bootstrap.servers = h1:9092\n\
         us-east->us-west.enable = true\nus-west->us-east.topics = ([\n",
    );
    let out = kmirror().arg("check").arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mm2.properties:3: us-east->us-west.enable"),
        "{err}"
    );
    assert!(err.contains("enabled"), "{err}");
    assert!(err.contains("mm2.properties:4"), "{err}");
}

#[test]
fn check_opens_stores_and_credentials_and_names_the_cluster_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        "clusters = A, B\nA.bootstrap.servers = h1:9092\nB.bootstrap.servers = h2:9092\nA->B.enabled = true\n\
         A.security.protocol = SSL\nA.ssl.truststore.type = PKCS12\nA.ssl.truststore.location = /nonexistent/ts.p12\n\
         A.ssl.truststore.password = s3cr3t-pw\n\
         B.security.protocol = SASL_SSL\nB.sasl.mechanism = GSSAPI\n",
    );
    let out = kmirror().arg("check").arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flow A->B: cluster A: ssl.truststore.location: cannot read truststore /nonexistent/ts.p12"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t-pw"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("s3cr3t-pw"), "{stdout}");
}

#[test]
fn version_and_help() {
    let out = kmirror().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = kmirror().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("check"));
}

/// `kmirror check` on every example of the seed document matches the
/// checked-in `.expected` output (`KMIRROR_BLESS=1` rewrites them).
#[test]
fn check_output_on_seed_examples_matches_expected() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/config");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("properties") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let out = kmirror()
            .current_dir(dir)
            .arg("check")
            .arg(&name)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        let text = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = path.with_extension("expected");
        if std::env::var("KMIRROR_BLESS").is_ok() {
            std::fs::write(&expected, &text).unwrap();
        }
        let want = std::fs::read_to_string(&expected).unwrap_or_default();
        assert_eq!(
            text,
            want,
            "{name}: kmirror check output differs from {}",
            expected.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "seed examples found: {checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_agrees_with_what_librdkafka_reads() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("cli-status");
    create(&client(&a).await, &t, 2).await;
    let recs = sample_records(60, 2);
    // One record per batch, so tansu's end offsets are exact here.
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": recs,
        "config": {"linger.ms": 0}, "flush_each": true}),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, &two_cluster_config(&a, &b));
    // Before any replication: everything is lag.
    let out = kmirror()
        .arg("status")
        .arg(&cfg)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lag: i64 = before["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["topic"] == t.as_str())
        .map(|l| l["lag_records"].as_i64().unwrap())
        .sum();
    assert_eq!(lag, 60);
    let mut child = spawn_run(&cfg, &[]);
    let got = wait_for_records(&b, &format!("A.{t}"), 2, recs.len()).await;
    // B->A is disabled, yet (as MM2 does) heartbeats flow into A.
    let mut beat = false;
    for _ in 0..40 {
        if client(&a)
            .await
            .list_topics()
            .await
            .unwrap()
            .contains_key("heartbeats")
        {
            beat = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(beat, "no heartbeats topic on A from the disabled pair B->A");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    let out = kmirror()
        .arg("status")
        .arg(&cfg)
        .arg("--json")
        .output()
        .unwrap();
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after["groups"], json!([]), "no scale-out group: {after}");
    for l in after["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["topic"] == t.as_str())
    {
        let p = l["partition"].as_i64().unwrap();
        let on_target = got.iter().filter(|r| r["partition"] == p).count() as i64;
        assert_eq!(l["position"].as_i64(), Some(on_target), "{l}");
        assert_eq!(l["lag_records"], 0, "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_10_s_even_with_the_target_down() {
    let a = Broker::start(1);
    let mut b = Broker::start(2);
    let t = topic_name("cli-down");
    create(&client(&a).await, &t, 1).await;
    let recs = sample_records(20, 1);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": recs}));
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, &two_cluster_config(&a, &b));
    let mut child = spawn_run(&cfg, &[]);
    wait_for_records(&b, &format!("A.{t}"), 1, recs.len()).await;
    b.stop();
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": sample_records(20, 1)}),
    );
    std::thread::sleep(Duration::from_secs(1));
    sigterm(&child);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    eprintln!(
        "exited {:?} after SIGTERM with the target down",
        start.elapsed()
    );
}

/// One MM2 file with active/active (A<->B) and aggregation (A->K, B->K) of a
/// topic that has the same name on A and B: every record lands under its
/// source's prefix, and no remote topic goes back where it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_runs_active_active_and_aggregation_without_loops() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let k = Broker::start(3);
    let t = topic_name("orders");
    for c in [&a, &b] {
        create(&client(c).await, &t, 1).await;
    }
    let from_a = sample_records(10, 1);
    let from_b = sample_records(12, 1);
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": from_a}),
    );
    oracle::call(
        &json!({"op": "produce", "bootstrap": b.bootstrap, "topic": t, "records": from_b}),
    );
    let dir = tempfile::tempdir().unwrap();
    // The filter also matches remote names (A.<t>, B.<t>): only the
    // replication policy's cycle check keeps them from going round.
    let cfg = write_config(
        &dir,
        &format!(
            "clusters = A, B, K\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\n\
             K.bootstrap.servers = {}\nA->B.enabled = true\nB->A.enabled = true\n\
             A->K.enabled = true\nB->K.enabled = true\ntopics = .*{t}.*\n\
             refresh.topics.interval.seconds = 1\n",
            a.bootstrap, b.bootstrap, k.bootstrap
        ),
    );
    let mut child = spawn_run(&cfg, &[]);
    assert_same(
        &wait_for_records(&b, &format!("A.{t}"), 1, 10).await,
        &from_a,
        1,
    );
    assert_same(
        &wait_for_records(&a, &format!("B.{t}"), 1, 12).await,
        &from_b,
        1,
    );
    assert_same(
        &wait_for_records(&k, &format!("A.{t}"), 1, 10).await,
        &from_a,
        1,
    );
    assert_same(
        &wait_for_records(&k, &format!("B.{t}"), 1, 12).await,
        &from_b,
        1,
    );
    // Two more refresh rounds for a loop to show, then look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    // What MM2's DefaultReplicationPolicy does: a remote topic never goes back
    // to a cluster it came from (no `B.A.x` on A, no `A.B.x` on B), while K,
    // downstream of both, also gets `A.B.x` and `B.A.x` (the second path).
    for (name, broker, max_hops) in [("A", &a, 1), ("B", &b, 1), ("K", &k, 2)] {
        let topics = client(broker).await.list_topics().await.unwrap();
        for topic in topics.keys().filter(|n| n.ends_with(t.as_str())) {
            let hops: Vec<&str> = topic
                .trim_end_matches(t.as_str())
                .split_terminator('.')
                .collect();
            let mut seen = std::collections::HashSet::new();
            assert!(
                hops.len() <= max_hops && hops.iter().all(|h| *h != name && seen.insert(*h)),
                "loop on {name}: {topic}"
            );
        }
    }
}

/// `--log-format json`: every log line `kmirror run` writes is one JSON object
/// with a level and a message (what log shippers expect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!("{}scale.out.enabled = false\n", two_cluster_config(&a, &b)),
    );
    let log = dir.path().join("kmirror.log");
    let mut child = kmirror()
        .args(["--log-format", "json", "run"])
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn kmirror");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    assert!(text.contains("starting flow"), "{text}");
}

/// `{source}.consumer.auto.offset.reset = latest`: what a partition held before
/// kmirror first started it is not copied; everything after is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_offset_reset_latest_skips_what_was_there_before_the_first_start() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("cli-latest");
    create(&client(&a).await, &t, 1).await;
    // One record per batch, so tansu's end offset is exact.
    let before = sample_records(10, 1);
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t,
        "records": before, "flush_each": true}),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "{}scale.out.enabled = false\nA->B.topics = {t}\nA.consumer.auto.offset.reset = latest\n",
            two_cluster_config(&a, &b)
        ),
    );
    let mut child = spawn_run(&cfg, &[]);
    let remote = format!("A.{t}");
    // The remote topic appears once the partition started (at the log end).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client(&b)
        .await
        .list_topics()
        .await
        .unwrap()
        .contains_key(&remote)
    {
        assert!(Instant::now() < deadline, "no remote topic");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: Vec<serde_json::Value> = sample_records(15, 1).split_off(10);
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t,
        "records": after, "flush_each": true}),
    );
    let got = wait_for_records(&b, &remote, 1, after.len()).await;
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    assert_same(&got, &after, 1);
}
