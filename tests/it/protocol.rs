//! kmirror-protocol against a real broker, with librdkafka as the independent client.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::ApiVersionsRequest;
use kmirror_protocol::batch::rewrite::{HeaderRewrite, ProducerFields, rewrite};
use kmirror_protocol::batch::{RawBatch, batches, records};
use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession, IsolationLevel};
use kmirror_protocol::client::api::offsets::OffsetSpec;
use kmirror_protocol::client::api::topics::NewTopic;
use kmirror_protocol::client::{Client, ClientConfig};
use kmirror_protocol::codec::{decode_response, encode_request};
use kmirror_protocol::kafka_protocol;
use serde_json::json;

use crate::harness::{Broker, oracle, topic_name};

#[test]
fn api_versions_answers_from_real_broker() {
    let broker = Broker::start(1);
    let mut s = TcpStream::connect(&broker.bootstrap).unwrap();
    let req = ApiVersionsRequest::default()
        .with_client_software_name("kmirror".into())
        .with_client_software_version("0.1.0".into());
    s.write_all(&encode_request(1, Some("kmirror-test"), 3, &req).unwrap())
        .unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let resp = decode_response::<ApiVersionsRequest>(3, Bytes::from(body)).unwrap();
    assert_eq!(resp.error_code, 0);
    assert!(resp.api_keys.iter().any(|k| k.api_key == 1), "Fetch listed");
}

pub async fn client(b: &Broker) -> Client {
    Client::connect(vec![b.bootstrap.clone()], ClientConfig::default())
        .await
        .expect("connect")
}

pub async fn create(c: &Client, topic: &str, partitions: i32) {
    let r = c
        .create_topics(
            &[NewTopic {
                name: topic.into(),
                num_partitions: partitions,
                replication_factor: -1,
                configs: vec![],
            }],
            30_000,
            false,
        )
        .await
        .unwrap();
    r[0].1.as_ref().expect("topic created");
}

/// Test records with keys, null values, headers and explicit timestamps.
pub fn sample_records(n: usize, partitions: i32) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            json!({
                "partition": (i as i32) % partitions,
                "key": if i % 7 == 3 { None } else { Some(hex(format!("key-{i}").as_bytes())) },
                "value": if i % 11 == 5 { None } else { Some(hex(format!("value-{i}-{}", "x".repeat(i % 50)).as_bytes())) },
                "headers": if i % 3 == 0 { json!([["h1", hex(b"v1")], ["h2", null]]) } else { json!([]) },
                "timestamp": 1_700_000_000_000i64 + i as i64,
            })
        })
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn opt_hex(b: &Option<Bytes>) -> serde_json::Value {
    b.as_ref()
        .map_or(serde_json::Value::Null, |v| json!(hex(v)))
}

/// Fetches everything from `topic`-`partition` with kmirror-protocol and decodes it.
async fn fetch_all(
    c: &Client,
    topic: &str,
    partition: i32,
    want: usize,
) -> Vec<(RawBatch, Vec<records::Record>)> {
    let leader = c.leader(topic, partition).await.unwrap();
    let mut session = FetchSession::new(c.clone(), leader, IsolationLevel::ReadCommitted);
    let mut offset = 0;
    let mut out = Vec::new();
    let mut n = 0;
    for _ in 0..100 {
        if n >= want {
            break;
        }
        let resp = session
            .fetch(&[FetchPosition {
                topic: topic.into(),
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
            }])
            .await
            .unwrap();
        for p in resp {
            assert!(p.error.is_none(), "{:?}", p.error);
            for b in batches(p.records) {
                let b = b.unwrap();
                let RawBatch::V2(v) = &b else {
                    panic!("legacy batch from librdkafka")
                };
                if v.last_offset() < offset {
                    continue;
                }
                v.verify_crc().unwrap();
                let recs = records::decode(v).unwrap();
                offset = v.last_offset() + 1;
                if !v.is_control() {
                    n += recs.len();
                }
                out.push((b, recs));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_batches_fetch_and_decode_for_every_codec() {
    let broker = Broker::start(1);
    let c = client(&broker).await;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = topic_name(&format!("decode-{codec}"));
        create(&c, &topic, 1).await;
        let recs = sample_records(200, 1);
        let r = oracle::call(
            &json!({"op": "produce", "bootstrap": broker.bootstrap, "topic": topic,
            "records": recs, "config": {"compression.type": codec, "enable.idempotence": true}}),
        );
        assert_eq!(r["errors"], json!([]), "{codec}");
        let got = fetch_all(&c, &topic, 0, recs.len()).await;
        let flat: Vec<&records::Record> = got.iter().flat_map(|(_, r)| r.iter()).collect();
        assert_eq!(flat.len(), recs.len(), "{codec}");
        for (g, e) in flat.iter().zip(&recs) {
            assert_eq!(opt_hex(&g.key), e["key"], "{codec} key");
            assert_eq!(opt_hex(&g.value), e["value"], "{codec} value");
            assert_eq!(json!(g.timestamp), e["timestamp"], "{codec} timestamp");
            let hs: Vec<serde_json::Value> = g
                .headers
                .iter()
                .map(|h| json!([String::from_utf8_lossy(&h.key), opt_hex(&h.value)]))
                .collect();
            assert_eq!(json!(hs), e["headers"], "{codec} headers");
        }
        // Every batch carries librdkafka's codec and its idempotent producer id.
        for (b, _) in &got {
            let RawBatch::V2(v) = b else { unreachable!() };
            assert_eq!(v.compression().unwrap().name(), codec);
            assert!(v.producer_id() >= 0, "idempotent producer id present");
        }
        if std::env::var("KMIRROR_CAPTURE").is_ok() {
            let RawBatch::V2(v) = &got[0].0 else {
                unreachable!()
            };
            let path = format!(
                "{}/testdata/batches/librdkafka-2.16_{codec}_headers_idempotent.bin",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::write(path, v.as_bytes()).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_batch_is_accepted_and_read_back_by_librdkafka() {
    let broker = Broker::start(1);
    let c = client(&broker).await;
    for codec in ["none", "lz4", "zstd"] {
        let src = topic_name("rw-src");
        let dst = topic_name("rw-dst");
        create(&c, &src, 1).await;
        create(&c, &dst, 1).await;
        let recs = sample_records(50, 1);
        oracle::call(
            &json!({"op": "produce", "bootstrap": broker.bootstrap, "topic": src,
            "records": recs, "config": {"compression.type": codec, "enable.idempotence": true}}),
        );
        let got = fetch_all(&c, &src, 0, recs.len()).await;
        let pid = c.init_producer_id(None).await.unwrap();
        let mut seq = 0;
        for (b, _) in &got {
            let RawBatch::V2(v) = b else { unreachable!() };
            let rw = rewrite(
                v,
                &HeaderRewrite::new(ProducerFields {
                    producer_id: pid.producer_id,
                    producer_epoch: pid.producer_epoch,
                    base_sequence: seq,
                }),
            )
            .unwrap();
            seq += v.records_count();
            let body_ptr = rw.body().as_ptr();
            assert_eq!(body_ptr, v.as_bytes()[61..].as_ptr(), "records not copied");
            let ack = c
                .produce(&dst, 0, rw.chunks().into_iter().cloned().collect(), 30_000)
                .await
                .unwrap();
            assert!(ack.base_offset >= 0);
        }
        let out = oracle::call(
            &json!({"op": "consume", "bootstrap": broker.bootstrap, "topic": dst,
            "partitions": 1, "expect": recs.len(), "timeout": 30}),
        );
        let out = out["records"].as_array().unwrap();
        assert_eq!(out.len(), recs.len(), "{codec}");
        for (g, e) in out.iter().zip(&recs) {
            assert_eq!(g["key"], e["key"]);
            assert_eq!(g["value"], e["value"]);
            assert_eq!(g["timestamp"], e["timestamp"]);
            assert_eq!(g["headers"], e["headers"]);
        }
        // The target stored the batch with the source codec.
        let back = fetch_all(&c, &dst, 0, recs.len()).await;
        let RawBatch::V2(v) = &back[0].0 else {
            unreachable!()
        };
        assert_eq!(v.compression().unwrap().name(), codec);
        assert_eq!(v.producer_id(), pid.producer_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_and_metadata_track_produced_records() {
    let broker = Broker::start(1);
    let c = client(&broker).await;
    let topic = topic_name("offsets");
    create(&c, &topic, 3).await;
    let topics = c.list_topics().await.unwrap();
    assert_eq!(topics[&topic].partitions.len(), 3);
    oracle::call(
        &json!({"op": "produce", "bootstrap": broker.bootstrap, "topic": topic,
        "records": sample_records(30, 3), "config": {"linger.ms": 0}, "flush_each": true}),
    );
    let tps: Vec<(String, i32)> = (0..3).map(|p| (topic.clone(), p)).collect();
    let earliest = c
        .list_offsets(&tps, OffsetSpec::Earliest, IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    let latest = c
        .list_offsets(&tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    for ((_, e), (_, l)) in earliest.iter().zip(&latest) {
        assert_eq!(*e.as_ref().unwrap(), 0);
        // tansu 0.6.0 reports the last batch's base offset + 1; with one record
        // per batch (flush_each) that equals Kafka's high watermark.
        assert_eq!(*l.as_ref().unwrap(), 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_id_changes_when_a_topic_is_recreated() {
    let broker = Broker::start(1);
    let c = client(&broker).await;
    let t = topic_name("tid");
    create(&c, &t, 1).await;
    c.refresh_metadata(Some(std::slice::from_ref(&t)))
        .await
        .unwrap();
    let first = c.topic_meta(&t).unwrap().topic_id;
    c.delete_topics(std::slice::from_ref(&t), 30_000)
        .await
        .unwrap();
    create(&c, &t, 1).await;
    c.refresh_metadata(Some(std::slice::from_ref(&t)))
        .await
        .unwrap();
    let second = c.topic_meta(&t).unwrap().topic_id;
    eprintln!("topic ids: {first:?} -> {second:?}");
    assert_ne!(first, [0; 16], "metadata carries topic ids");
    assert_ne!(first, second, "a re-created topic gets a new id");
}

/// Produces `n` uncompressed, non-idempotent records to `topic`-`partition`.
async fn produce_plain(c: &Client, topic: &str, partition: i32, round: usize, n: usize) {
    use kmirror_protocol::batch::Compression;
    use kmirror_protocol::batch::builder::BatchBuilder;
    let mut b = BatchBuilder::new(Compression::None);
    for i in 0..n {
        let v = format!("r{round}-p{partition}-{i}");
        b.push(records::Record::new(
            None,
            Some(v.as_bytes()),
            1_700_000_000_000,
        ));
    }
    c.produce(topic, partition, vec![b.build().unwrap()], 30_000)
        .await
        .unwrap();
}

/// KIP-227 against the broker: several fetch rounds through one FetchSession,
/// each after new records on every partition. Checks that every partition
/// returns its new records in every round, and, when the broker opens a
/// session, that it is kept and its epoch advances by one per fetch (so the
/// later requests are incremental).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_session_rounds_return_new_data_for_every_partition() {
    let broker = Broker::start(1);
    let c = client(&broker).await;
    let topic = topic_name("session");
    const PARTITIONS: i32 = 3;
    create(&c, &topic, PARTITIONS).await;
    let leader = c.leader(&topic, 0).await.unwrap();
    for p in 1..PARTITIONS {
        assert_eq!(c.leader(&topic, p).await.unwrap(), leader, "one broker");
    }
    let mut session = FetchSession::new(c.clone(), leader, IsolationLevel::ReadUncommitted);
    session.max_wait = std::time::Duration::from_millis(200);
    let mut next = [0i64; PARTITIONS as usize];
    let mut ids = Vec::new();
    let mut epochs = Vec::new();
    for round in 0..4 {
        for p in 0..PARTITIONS {
            produce_plain(&c, &topic, p, round, 2 + p as usize).await;
        }
        let target: Vec<i64> = (0..PARTITIONS)
            .map(|p| next[p as usize] + 2 + p as i64)
            .collect();
        let mut got = [0usize; PARTITIONS as usize];
        for _ in 0..50 {
            if (0..PARTITIONS as usize).all(|p| next[p] >= target[p]) {
                break;
            }
            let wanted: Vec<FetchPosition> = (0..PARTITIONS)
                .map(|p| FetchPosition {
                    topic: topic.clone(),
                    partition: p,
                    fetch_offset: next[p as usize],
                    partition_max_bytes: 1 << 20,
                })
                .collect();
            let before = session.session();
            let resp = session.fetch(&wanted).await.unwrap();
            let after = session.session();
            ids.push(after.0);
            epochs.push((before, after));
            for fp in resp {
                assert!(fp.error.is_none(), "{:?}", fp.error);
                let i = fp.partition as usize;
                for b in batches(fp.records) {
                    let RawBatch::V2(v) = b.unwrap() else {
                        panic!("legacy batch")
                    };
                    if v.last_offset() < next[i] {
                        continue;
                    }
                    for r in records::decode(&v).unwrap() {
                        let want = format!("r{round}-p{i}-");
                        let value = r.value.unwrap();
                        assert!(
                            value.starts_with(want.as_bytes()),
                            "round {round} partition {i}: {value:?}"
                        );
                        got[i] += 1;
                    }
                    next[i] = v.last_offset() + 1;
                }
            }
        }
        for p in 0..PARTITIONS as usize {
            assert_eq!(got[p], 2 + p, "round {round}: partition {p} new records");
            assert_eq!(next[p], target[p], "round {round}: partition {p} offset");
        }
    }
    eprintln!("fetch sessions (before -> after): {epochs:?}");
    if ids.iter().all(|&id| id == 0) {
        crate::harness::not_run(
            "fetch_session_rounds_return_new_data_for_every_partition (incremental part)",
            "a broker that opens KIP-227 fetch sessions (this one answered session_id 0 to every fetch, so every request was full)",
            "client::api::fetch::tests (session state machine: incremental requests, forgotten topics, reset on 70/71 and transport errors)",
        );
        return;
    }
    // Once open, the session stays and each fetch moves the epoch by one.
    let first = ids.iter().position(|&id| id != 0).unwrap();
    assert!(ids[first..].iter().all(|&id| id == ids[first]), "{ids:?}");
    for (before, after) in &epochs[first + 1..] {
        assert_eq!(before.0, after.0);
        assert_eq!(after.1, before.1 + 1, "{epochs:?}");
    }
}

/// Bootstrap skips a dead address; after the broker restarts, the same client
/// reconnects on its own (network errors are retried with a new connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_client_skips_dead_bootstrap_servers_and_reconnects_after_a_restart() {
    let mut b = Broker::start(1);
    let dead = format!("127.0.0.1:{}", crate::harness::free_port());
    let c = Client::connect(vec![dead, b.bootstrap.clone()], ClientConfig::default())
        .await
        .expect("the live bootstrap server answers");
    let t = topic_name("reconnect");
    create(&c, &t, 1).await;
    assert!(c.list_topics().await.expect("topics").contains_key(&t));
    if !b.is_tansu() {
        crate::harness::not_run(
            "protocol::cluster_client_..._reconnects_after_a_restart (restart part)",
            "a broker the test can stop and start",
            "the bootstrap part of the same test",
        );
        return;
    }
    b.stop();
    // Down: a typed error, no hang beyond the request timeout, no panic.
    let down = tokio::time::timeout(std::time::Duration::from_secs(60), c.list_topics()).await;
    assert!(matches!(down, Ok(Err(_))), "{down:?}");
    b.restart();
    // Up again (tansu's memory storage starts empty): the same client works.
    let t2 = topic_name("reconnect-after");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match c.list_topics().await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet reconnected: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("never reconnected: {e}"),
        }
    }
    create(&c, &t2, 1).await;
    let ends = c
        .list_offsets(
            &[(t2.clone(), 0)],
            OffsetSpec::Latest,
            IsolationLevel::ReadUncommitted,
        )
        .await
        .expect("list offsets after the restart");
    assert_eq!(ends.len(), 1);
}
