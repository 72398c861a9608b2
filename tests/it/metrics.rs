//! The metrics endpoint on a running flow: counts, lag, status and health.

use std::sync::Arc;
use std::time::Duration;

use kmirror::metrics::Metrics;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::forward::{Running, fast_plan, wait_for_records};
use crate::harness::{Broker, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

/// GET `path` from `addr`; returns (status code, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (code, body)
}

/// Sum of a metric's samples whose labels contain `filter`.
pub fn sum_metric(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_record_lag_drains_and_healthz_follows_the_target() {
    let a = Broker::start(1);
    let mut b = Broker::start(2);
    let t = topic_name("metrics");
    create(&client(&a).await, &t, 3).await;
    let recs = sample_records(240, 3);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": recs}));
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let addr = kmirror::metrics::http::serve("127.0.0.1:0", Arc::clone(&metrics), cancel.clone())
        .await
        .unwrap()
        .to_string();
    // Every family is declared before the first series.
    let (code, text) = http_get(&addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        text.contains("# TYPE kmirror_record_count counter"),
        "{text}"
    );
    assert_eq!(http_get(&addr, "/healthz").await.0, 503, "no flow yet");
    let mut plan = fast_plan(&a, "A", &b, "B");
    plan.metrics = Arc::clone(&metrics);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_for_records(&b, &remote, 3, recs.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, text) = http_get(&addr, "/metrics").await;
    let n = sum_metric(
        &text,
        "kmirror_record_count_total",
        &format!("topic=\"{remote}\""),
    );
    assert_eq!(n as usize, recs.len(), "record count over partitions");
    assert_eq!(
        sum_metric(&text, "kmirror_lag_records", &format!("topic=\"{remote}\"")),
        0.0
    );
    assert!(sum_metric(&text, "kmirror_batches_total", "path=\"passthrough\"") > 0.0);
    // Series created at 0 when each partition and sync started, so alerts see
    // their first change.
    for p in 0..3 {
        assert!(
            text.contains(&format!("kmirror_upstream_lost_records_total{{source=\"A\",target=\"B\",topic=\"{remote}\",partition=\"{p}\"}} 0")),
            "partition {p}:\n{text}"
        );
    }
    for sync in ["progress", "heartbeats", "checkpoints"] {
        let l = format!("source=\"A\",target=\"B\",sync=\"{sync}\"");
        assert!(
            text.contains(&format!("kmirror_sync_errors_total{{{l}}} 0")),
            "{sync}:\n{text}"
        );
    }
    // Heartbeats (every second) and the first checkpoint round have succeeded.
    let mut synced = false;
    for _ in 0..40 {
        let (_, text) = http_get(&addr, "/metrics").await;
        if ["heartbeats", "checkpoints"].iter().all(|sync| {
            sum_metric(
                &text,
                "kmirror_sync_last_success_timestamp_seconds",
                &format!("sync=\"{sync}\""),
            ) > 1.6e9
        }) {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(synced, "heartbeats and checkpoints reported success");
    let (code, status) = http_get(&addr, "/status").await;
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status[0]["flow"], "A->B");
    assert_eq!(status[0]["records"].as_u64().unwrap() as usize, recs.len());
    assert_eq!(status[0]["lag_records"], 0);
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    // Target down: 503 with the reason, and lag rises; back: 200.
    b.stop();
    let more = sample_records(30, 3);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": more}));
    let mut down = false;
    for _ in 0..40 {
        let (code, body) = http_get(&addr, "/healthz").await;
        if code == 503 {
            assert!(body.contains("target"), "{body}");
            down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(down, "healthz never turned 503");
    let mut lagging = false;
    for _ in 0..40 {
        let (_, text) = http_get(&addr, "/metrics").await;
        if sum_metric(&text, "kmirror_lag_records", &format!("topic=\"{remote}\"")) > 0.0 {
            lagging = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(lagging, "lag did not rise while the target was down");
    let (_, text) = http_get(&addr, "/metrics").await;
    assert!(
        sum_metric(&text, "kmirror_lag_seconds", &format!("topic=\"{remote}\"")) > 0.0,
        "recovery point while records are behind:\n{text}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&http_get(&addr, "/status").await.1).unwrap();
    for p in status[0]["partitions"].as_array().unwrap() {
        if p["lag_records"].as_i64().unwrap() > 0 {
            assert!(p["lag_seconds"].as_f64().unwrap() > 0.0, "{p}");
        }
    }
    // Heartbeats to the stopped target fail and are counted.
    let mut failing = false;
    for _ in 0..80 {
        let (_, text) = http_get(&addr, "/metrics").await;
        if sum_metric(&text, "kmirror_sync_errors_total", "sync=\"heartbeats\"") > 0.0 {
            failing = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        failing,
        "heartbeat errors counted while the target was down"
    );
    assert!(text.contains("kmirror_sync_last_success_timestamp_seconds{source=\"A\",target=\"B\",sync=\"progress\"}"), "{text}");
    b.restart();
    let mut up = false;
    for _ in 0..60 {
        if http_get(&addr, "/healthz").await.0 == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(up, "healthz never recovered");
    flow.stop().await;
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreated_source_topic_is_detected_reported_and_replicated_from_its_start() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let ca = client(&a).await;
    let t = topic_name("recreate");
    create(&ca, &t, 1).await;
    let first = sample_records(30, 1);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": first}));
    let metrics = Arc::new(Metrics::default());
    let mut plan = fast_plan(&a, "A", &b, "B");
    plan.metrics = Arc::clone(&metrics);
    plan.integrity_interval = Duration::from_millis(300);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_for_records(&b, &remote, 1, first.len()).await;
    // Delete and re-create the source topic, then write new records to it.
    let r = ca
        .delete_topics(std::slice::from_ref(&t), 30_000)
        .await
        .unwrap();
    r[0].1.as_ref().expect("topic deleted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    create(&ca, &t, 1).await;
    let second: Vec<serde_json::Value> = sample_records(50, 1).into_iter().skip(30).collect();
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": second}),
    );
    let got = wait_for_records(&b, &remote, 1, first.len() + second.len()).await;
    assert_eq!(
        got.len(),
        first.len() + second.len(),
        "new topic's records replicated after re-creation"
    );
    let text = metrics.render();
    assert!(
        text.contains(&format!("kmirror_upstream_lost_records_total{{source=\"A\",target=\"B\",topic=\"{remote}\",partition=\"0\"}}")),
        "re-creation reported in the lost-records counter:\n{text}"
    );
    // The old topic's high watermark (30) is forgotten at the restart: the
    // new topic (20 records) is caught up.
    let mut caught_up = false;
    for _ in 0..40 {
        let s = metrics.status();
        if let Some(p) = s
            .iter()
            .flat_map(|f| &f.partitions)
            .find(|p| p.topic == remote)
            && p.position == second.len() as i64
            && p.lag_records == 0
        {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        caught_up,
        "lag of the re-created topic: {:?}",
        metrics.status()
    );
    if a.is_tansu() {
        crate::harness::not_run(
            "recreated_source_topic_is_detected... (retention / DeleteRecords gap)",
            "DeleteRecords or time-based retention (tansu 0.6.0 drops the connection on DeleteRecords)",
            "unit test engine::integrity_tests::records_deleted_below_the_position_are_lost_from_position_to_log_start (the decision), and truncated_source_log_is_reported_counted_and_resumed_at_the_log_end (the same restart and counting path)",
        );
    }
    flow.stop().await;
}

fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `promtool ARGS... deploy/FILE`; NOT RUN when promtool is missing.
fn promtool(test: &str, args: &[&str], file: &str) {
    if !have("promtool") {
        crate::harness::not_run(test, "promtool (Debian package prometheus)", "nothing");
        return;
    }
    let out = std::process::Command::new("promtool")
        .args(args)
        .arg(format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_pass_promtool() {
    promtool(
        "alert_rules_pass_promtool",
        &["check", "rules"],
        "alerts.yml",
    );
}

/// `deploy/alerts_test.yml`: the rules fire for the worst partition's lag (not a sum),
/// for a first loss and a loss found before the first scrape, for stale and never-succeeded
/// syncs, and not for idle progress writers.
#[test]
fn alert_rules_unit_tests_pass_promtool() {
    promtool(
        "alert_rules_unit_tests_pass_promtool",
        &["test", "rules"],
        "alerts_test.yml",
    );
}

/// A `tracing` writer into a shared buffer, to read the log lines a test caused.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Kafka keeps kmirror's position above the log end after an unclean leader election; here
/// the saved progress (offset 100) is past the end of a 10-record source partition with the
/// same topic id. kmirror logs the loss with its range, counts `position - log end` = 90
/// records and resumes at the log end: the records produced next are replicated.
#[test]
fn truncated_source_log_is_reported_counted_and_resumed_at_the_log_end() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // Every task of the flow runs on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = Broker::start(1);
        let b = Broker::start(2);
        let t = topic_name("truncated");
        create(&client(&a).await, &t, 1).await;
        let first = sample_records(10, 1);
        oracle::call(
            &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": first}),
        );
        let metrics = Arc::new(Metrics::default());
        let mut plan = fast_plan(&a, "A", &b, "B");
        plan.metrics = Arc::clone(&metrics);
        plan.integrity_interval = Duration::from_millis(300);
        // Progress saved by an earlier run: last replicated offset 99.
        let cb = client(&b).await;
        let progress = plan.progress.progress_topic.clone();
        kmirror::sync::io::ensure_compacted_topic(&cb, &progress, 1)
            .await
            .unwrap();
        let key = kmirror::internal_topics::source_offset_key("A", &t, 0);
        let value = kmirror::internal_topics::source_offset_value(99);
        let record = kmirror_protocol::batch::records::Record::new(
            Some(&key),
            Some(&value),
            1_700_000_000_000,
        );
        kmirror::sync::io::write_records(&cb, &progress, vec![record])
            .await
            .unwrap();
        let flow = Running::start(plan);
        let remote = format!("A.{t}");
        let labels = format!("source=\"A\",target=\"B\",topic=\"{remote}\",partition=\"0\"");
        let mut lost = None;
        for _ in 0..120 {
            let text = metrics.render();
            lost = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("kmirror_upstream_lost_records_total{{{labels}}} "))
                })
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0);
            if lost.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(lost, Some(90.0), "lost records = position - log end");
        let line = logs
            .text()
            .lines()
            .find(|l| l.contains("DATA LOSS") && l.contains(&t))
            .map(str::to_owned);
        let line = line.unwrap_or_else(|| panic!("no DATA LOSS line:\n{}", logs.text()));
        for part in [
            "ERROR",
            "truncated",
            "partition=0",
            "from=10",
            "to=100",
            "lost=90",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        // Resumed at the log end: what is produced next is replicated, nothing else.
        let more: Vec<serde_json::Value> = sample_records(15, 1).into_iter().skip(10).collect();
        oracle::call(
            &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": more}),
        );
        let got = wait_for_records(&b, &remote, 1, more.len()).await;
        crate::forward::assert_same(&got, &more, 1);
        flow.stop().await;
    });
}

/// `metrics.num.samples` and `metrics.sample.window.ms` are read at top level: `kmirror check`
/// accepts them without a note, warns at cluster level, and `kmirror run` refuses a value
/// that cannot make a window before connecting anywhere.
#[test]
fn metric_window_keys_are_read_at_top_level() {
    let dir = tempfile::tempdir().unwrap();
    let base = "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:1\n\
                A->B.enabled = true\nscale.out.enabled = false\n";
    // `kmirror check` on `body`: (success, stdout and stderr).
    let check = |body: &str| {
        let cfg = crate::cli::write_config(&dir, body);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
            .arg("check")
            .arg(&cfg)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), all)
    };
    let (ok, all) = check(&format!(
        "{base}metrics.num.samples = 3\nmetrics.sample.window.ms = 10000\n"
    ));
    assert!(ok, "{all}");
    assert!(!all.contains("metrics.num.samples"), "{all}");
    assert!(!all.contains("metrics.sample.window.ms"), "{all}");
    let (_, all) = check(&format!("{base}A.metrics.num.samples = 3\n"));
    assert!(all.contains("A.metrics.num.samples"), "{all}");
    let cfg = crate::cli::write_config(&dir, &format!("{base}metrics.num.samples = 0\n"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .arg("run")
        .arg(&cfg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(
        status.is_some_and(|s| !s.success()),
        "kmirror run kept running: {err}"
    );
    assert!(
        err.contains("metrics.num.samples = 0: expected a whole number of at least 1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_scrapes_the_replicated_count_and_the_dashboard_metrics_exist() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("prom");
    create(&client(&a).await, &t, 2).await;
    let recs = sample_records(100, 2);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": recs}));
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let addr = kmirror::metrics::http::serve("127.0.0.1:0", Arc::clone(&metrics), cancel.clone())
        .await
        .unwrap()
        .to_string();
    let mut plan = fast_plan(&a, "A", &b, "B");
    plan.metrics = Arc::clone(&metrics);
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    wait_for_records(&b, &remote, 2, recs.len()).await;
    // Every metric the dashboard uses exists in a scrape.
    let (_, scrape) = http_get(&addr, "/metrics").await;
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let re = regex::Regex::new(r"kmirror_[a-z_]+").unwrap();
    for p in dash["panels"].as_array().unwrap() {
        for target in p["targets"].as_array().unwrap() {
            for m in re.find_iter(target["expr"].as_str().unwrap()) {
                let family = m.as_str().trim_end_matches("_total");
                assert!(
                    scrape.contains(&format!("# TYPE {family} ")),
                    "dashboard metric {} not in a scrape",
                    m.as_str()
                );
            }
        }
    }
    if !have("prometheus") {
        crate::harness::not_run(
            "real_prometheus_scrapes_the_replicated_count (Prometheus part)",
            "the prometheus binary (Debian package prometheus)",
            "metrics_count_every_record_lag_drains_and_healthz_follows_the_target",
        );
    } else {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kmirror\n    static_configs:\n      - targets: ['{addr}']\n"),
        )
        .unwrap();
        let mut prom = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let prom_addr = format!("127.0.0.1:{port}");
        let query = format!(
            "/api/v1/query?query=sum(kmirror_record_count_total%7Btopic%3D%22{remote}%22%7D)"
        );
        let mut value = None;
        for _ in 0..120 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if tokio::net::TcpStream::connect(&prom_addr).await.is_err() {
                continue;
            }
            let (code, body) = http_get(&prom_addr, &query).await;
            if code != 200 {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(x) = v["data"]["result"][0]["value"][1].as_str() {
                value = x.parse::<f64>().ok();
                break;
            }
        }
        let _ = prom.kill();
        let _ = prom.wait();
        assert_eq!(
            value,
            Some(recs.len() as f64),
            "Prometheus query of the replicated count"
        );
    }
    flow.stop().await;
    cancel.cancel();
}
