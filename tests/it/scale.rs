//! Scale-out: several `kmirror run` processes share one flow through the
//! target's group coordinator; kill -9 one while data flows and nothing is lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{sigterm, two_cluster_config, write_config};
use crate::harness::{Broker, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

/// A `kmirror run` process whose log goes to a file.
struct Proc {
    child: std::process::Child,
    log: std::path::PathBuf,
}

/// Kills every process still running when the test ends, even on failure.
struct Procs(Vec<Proc>);

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.0 {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

fn spawn(cfg: &std::path::Path, dir: &std::path::Path, n: usize) -> Proc {
    spawn_with(cfg, dir, n, &[])
}

fn spawn_with(cfg: &std::path::Path, dir: &std::path::Path, n: usize, extra: &[&str]) -> Proc {
    let log = dir.join(format!("kmirror-{n}.log"));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .arg("run")
        .arg(cfg)
        .args(extra)
        .env(
            "RUST_LOG",
            std::env::var("KMIRROR_CHILD_LOG").unwrap_or_else(|_| "kmirror=info".into()),
        )
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn kmirror");
    Proc { child, log }
}

/// The process's latest grant from its log: (generation, partitions).
fn latest_grant(p: &Proc) -> Option<(i64, usize)> {
    let raw = std::fs::read_to_string(&p.log).ok()?;
    // Drop ANSI colour codes, if the subscriber wrote any.
    let mut text = String::with_capacity(raw.len());
    let mut in_escape = false;
    for c in raw.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => text.push(c),
        }
    }
    let line = text.lines().rev().find(|l| l.contains(" joined "))?;
    let field = |name: &str| -> Option<i64> {
        let at = line.find(&format!("{name}="))? + name.len() + 1;
        line[at..]
            .split(|c: char| !c.is_ascii_digit() && c != '-')
            .next()?
            .parse()
            .ok()
    };
    Some((
        field("generation")?,
        usize::try_from(field("partitions")?).ok()?,
    ))
}

/// Waits until the live processes all hold partitions of one generation,
/// at least `total` in all (the topic's, plus any heartbeats partition).
fn wait_for_split(procs: &[&Proc], total: usize) -> Vec<usize> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        last = procs.iter().map(|p| latest_grant(p)).collect::<Vec<_>>();
        if let Some(grants) = last.iter().copied().collect::<Option<Vec<_>>>()
            && grants.iter().all(|(g, n)| *g == grants[0].0 && *n > 0)
            && grants.iter().map(|(_, n)| n).sum::<usize>() >= total
        {
            return grants.iter().map(|(_, n)| *n).collect();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the processes never split {total} partitions: last grants {last:?}");
}

/// Every record on the target, keyed by source timestamp (unique per record).
/// (Reads until idle, not up to a count: duplicates would end a counted read early.)
fn read_target(b: &Broker, topic: &str, partitions: i32) -> BTreeMap<i64, usize> {
    let out = oracle::call(
        &json!({"op": "consume", "bootstrap": b.bootstrap, "topic": topic,
        "partitions": partitions, "expect": 1_000_000, "timeout": 4}),
    );
    let mut seen = BTreeMap::new();
    for r in out["records"].as_array().cloned().unwrap_or_default() {
        if let Some(ts) = r["timestamp"].as_i64() {
            *seen.entry(ts).or_insert(0) += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_a_flow_and_a_kill_9_loses_nothing() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("scale");
    create(&client(&a).await, &t, 6).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_path = dir.path().to_path_buf();
    // KMIRROR_KEEP_LOGS=1 keeps the processes' logs for a post-mortem.
    let _dir = if std::env::var("KMIRROR_KEEP_LOGS").is_ok() {
        eprintln!("process logs kept in {}", dir.keep().display());
        None
    } else {
        Some(dir)
    };
    let cfg = write_config(
        &dir_path,
        &format!(
            "{}scale.out.enabled = true\nA->B.topics = {t}\n",
            two_cluster_config(&a, &b)
        ),
    );
    let mut procs = Procs((0..3).map(|n| spawn(&cfg, &dir_path, n)).collect());
    let split = wait_for_split(&procs.0.iter().collect::<Vec<_>>(), 6);
    eprintln!("3 processes share 6 partitions: {split:?}");
    // The checkpoint work is one more item the leader assigns: exactly one
    // process runs it.
    let running_checkpoints = |p: &Proc| {
        let log = std::fs::read_to_string(&p.log).unwrap_or_default();
        log.matches("running this flow's checkpoints").count() as i64
            - log.matches("checkpoints handed back").count() as i64
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut runners: Vec<i64> = Vec::new();
    while Instant::now() < deadline {
        runners = procs.0.iter().map(running_checkpoints).collect();
        if runners.iter().sum::<i64>() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        runners.iter().sum::<i64>(),
        1,
        "checkpoints run once: {runners:?}"
    );

    let records = sample_records(600, 6);
    let (first, second) = records.split_at(300);
    oracle::call(&json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": first}));
    let remote = format!("A.{t}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_target(&b, &remote, 6).len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // kill -9: no LeaveGroup, no progress flush; the others take over after
    // session.timeout.ms and resume from the saved progress.
    let killed_at = Instant::now();
    procs.0[0].child.kill().expect("kill -9");
    let _ = procs.0[0].child.wait();
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": second}),
    );
    // A fourth process joins and takes a share without stopping the others.
    procs.0.push(spawn(&cfg, &dir_path, 3));
    let split = wait_for_split(&procs.0[1..].iter().collect::<Vec<_>>(), 6);
    eprintln!(
        "after kill -9 and a new process: {split:?} ({:.1} s after the kill)",
        killed_at.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = BTreeMap::new();
    while Instant::now() < deadline {
        seen = read_target(&b, &remote, 6);
        if seen.len() == 600 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for p in &procs.0[1..] {
        sigterm(&p.child);
    }
    for p in &mut procs.0[1..] {
        let _ = p.child.wait();
    }
    let want: Vec<i64> = records
        .iter()
        .filter_map(|r| r["timestamp"].as_i64())
        .collect();
    let missing: Vec<&i64> = want.iter().filter(|ts| !seen.contains_key(ts)).collect();
    assert!(
        missing.is_empty(),
        "{} records lost: {missing:?}",
        missing.len()
    );
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!("kill -9 with scale-out: 600 records, 0 lost, {duplicates} duplicated");
    // Bound: what the killed process forwarded after its last progress save
    // (offset.flush.interval.ms = 200 here) can be sent again by its successor.
    assert!(duplicates <= 300, "{duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_with_different_files_get_a_warning_naming_the_keys() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = topic_name("conflict");
    create(&client(&a).await, &t, 2).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let base = format!("{}scale.out.enabled = true\n", two_cluster_config(&a, &b));
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    std::fs::create_dir_all(&one).expect("dir");
    std::fs::create_dir_all(&two).expect("dir");
    let cfg_one = write_config(&one, &format!("{base}A->B.topics = {t}\n"));
    // The second file also names remote topics differently: whichever file
    // leads, every member must run its settings, so all records land in one
    // remote topic.
    let cfg_two = write_config(
        &two,
        &format!("{base}A->B.topics = {t}|other.*\nreplication.policy.separator = _\n"),
    );
    let addrs: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", crate::harness::free_port()))
        .collect();
    let procs = Procs(vec![
        spawn_with(&cfg_one, &one, 0, &["--metrics-addr", &addrs[0]]),
        spawn_with(&cfg_two, &two, 1, &["--metrics-addr", &addrs[1]]),
    ]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut warned = None;
    while Instant::now() < deadline && warned.is_none() {
        warned = procs.0.iter().find_map(|p| {
            let log = std::fs::read_to_string(&p.log).unwrap_or_default();
            log.lines()
                .find(|l| l.contains("configuration files differ"))
                .map(str::to_owned)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let line = warned.expect("the leader warns that the members' files differ");
    eprintln!("{line}");
    assert!(line.contains("topics"), "{line}");
    assert!(line.contains("replication.policy.separator"), "{line}");
    // The other member warns too and shows it in /status.
    let mut shown = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !shown {
        for addr in &addrs {
            let (_, body) = crate::metrics::http_get(addr, "/status").await;
            if body.contains(
                "\"config_differs_from_leader\":[\"replication.policy.separator\",\"topics\"]",
            ) {
                shown = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        shown,
        "a member's /status names the key that differs from the leader"
    );
    let member_warned = procs.0.iter().any(|p| {
        std::fs::read_to_string(&p.log)
            .unwrap_or_default()
            .contains("differs from the group leader's")
    });
    assert!(member_warned, "the member logs the conflict too");
    // The member restarts its flow with the leader's settings, and the two
    // processes then replicate into the leader's remote topic only.
    let adopted = procs.0.iter().any(|p| {
        std::fs::read_to_string(&p.log)
            .unwrap_or_default()
            .contains("restarting this flow with the group leader's settings")
    });
    assert!(adopted, "the member adopts the leader's settings");
    let records = sample_records(40, 2);
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": records}),
    );
    let (dot, underscore) = (format!("A.{t}"), format!("A_{t}"));
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut counts = (0, 0);
    while Instant::now() < deadline {
        let topics = client(&b).await.list_topics().await.expect("topics on B");
        let count = |name: &str| {
            if topics.contains_key(name) {
                read_target(&b, name, 2).values().sum::<usize>()
            } else {
                0
            }
        };
        counts = (count(&dot), count(&underscore));
        if counts.0 + counts.1 >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "records in {dot}: {}, in {underscore}: {}",
        counts.0, counts.1
    );
    assert!(
        counts == (40, 0) || counts == (0, 40),
        "every record in the leader's remote topic: {counts:?}"
    );
    // `kmirror status` (no running process needed) shows the group and names
    // the member whose file differs from the one given to it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .args(["status", "--json"])
        .arg(&cfg_one)
        .output()
        .expect("kmirror status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let group = &status["groups"][0];
    assert_eq!(group["group"], "kmirror.A->B", "{status}");
    let members = group["members"].as_array().expect("members");
    assert_eq!(members.len(), 2, "{group}");
    if members.iter().all(|m| m["metadata_reported"] == false) {
        crate::harness::not_run(
            "kmirror status naming the member whose file differs",
            "a coordinator whose DescribeGroups returns member metadata",
            "cli::status::tests::a_group_view_names_the_leader_and_the_keys_that_differ",
        );
        return;
    }
    let differing: Vec<&serde_json::Value> = members
        .iter()
        .map(|m| &m["differs_from_this_file"])
        .filter(|d| d.as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert_eq!(
        differing,
        [&json!(["replication.policy.separator", "topics"])],
        "{group}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_generation_never_overrides_a_higher_one_when_resuming() {
    use kmirror::internal_topics::{
        source_offset_key, source_offset_value, source_offset_value_with_generation,
    };
    use kmirror_protocol::batch::records::Record;
    let b = Broker::start(1);
    let c = client(&b).await;
    let topic = topic_name("progress");
    create(&c, &topic, 1).await;
    let key = |p: i32| source_offset_key("A", "orders", p);
    let rec = |p: i32, v: Vec<u8>| Record::new(Some(&key(p)), Some(&v), 1_700_000_000_000);
    // Partition 0: the owner in generation 5 reached 99; a fenced process of
    // generation 3 writes 49 afterwards. Partition 1: no generations, log order.
    let records = vec![
        rec(0, source_offset_value_with_generation(99, 5)),
        rec(0, source_offset_value_with_generation(49, 3)),
        rec(1, source_offset_value(10)),
        rec(1, source_offset_value(20)),
    ];
    kmirror::sync::io::write_records(&c, &topic, records)
        .await
        .expect("written");
    let saved = kmirror::forward::progress::load_progress(&c, &topic, "A")
        .await
        .expect("loaded");
    assert_eq!(saved.get(&("orders".to_owned(), 0)), Some(&100));
    assert_eq!(saved.get(&("orders".to_owned(), 1)), Some(&21));
}
