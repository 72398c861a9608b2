//! TLS, mutual TLS and SASL against real endpoints: tansu behind stunnel4 with
//! certificates made here, librdkafka on the same endpoint as the oracle.

use std::collections::BTreeMap;
use std::time::Duration;

use kmirror::engine::plan::FlowPlan;
use kmirror_protocol::client::{Client, ClientConfig, TcpConnector, security};
use serde_json::json;

use crate::forward::Running;
use crate::harness::secure::{
    P12_PASSWORD, Pki, SaslBroker, TansuWithAuthentication, TlsBroker, stunnel_bin,
};
use crate::harness::{Broker, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A client config built the way `kmirror run` builds it from Kafka keys.
fn secured(p: &BTreeMap<String, String>) -> ClientConfig {
    let s = security::from_props(|k| p.get(k).map(String::as_str), TcpConnector::default())
        .expect("security settings");
    let mut c = ClientConfig {
        connector: s.connector,
        max_attempts: 2,
        ..ClientConfig::default()
    };
    c.conn.sasl = s.sasl;
    c.conn.request_timeout = Duration::from_secs(5);
    c
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    kmirror::engine::error_chain(e)
}

/// Connects and reads metadata; the error chain as text on failure.
async fn try_connect(bootstrap: &str, config: ClientConfig) -> Result<Client, String> {
    let c = Client::connect(vec![bootstrap.to_owned()], config)
        .await
        .map_err(|e| chain(&e))?;
    c.refresh_metadata(None).await.map_err(|e| chain(&e))?;
    Ok(c)
}

/// The error of a connection that must fail.
async fn refused(bootstrap: &str, config: ClientConfig, why: &str) -> String {
    match try_connect(bootstrap, config).await {
        Ok(_) => panic!("connected, but expected: {why}"),
        Err(e) => e,
    }
}

fn skip_without_stunnel(test: &str) -> bool {
    if stunnel_bin().is_none() {
        crate::harness::not_run(
            test,
            "stunnel4 (Debian package, installed by scripts/setup.sh)",
            "client::tls unit tests",
        );
        return true;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_into_a_tls_cluster_verified_by_librdkafka() {
    if skip_without_stunnel("replication_into_a_tls_cluster") {
        return;
    }
    let pki = Pki::generate(&["localhost"]);
    let a = Broker::start(1);
    let b = TlsBroker::start(&pki, "localhost", false);
    let t = topic_name("tls");
    create(&client(&a).await, &t, 2).await;
    let records = sample_records(40, 2);
    oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": records}),
    );

    let ca = pki.ca.display().to_string();
    let mut plan = FlowPlan::with_defaults("A", &a.bootstrap, "B", &b.bootstrap);
    plan.refresh_topics_interval = Duration::from_millis(500);
    plan.fetch.max_wait = Duration::from_millis(100);
    plan.target_client = secured(&props(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", &ca),
    ]));
    let flow = Running::start(plan);
    let remote = format!("A.{t}");
    let tls = json!({"security.protocol": "SSL", "ssl.ca.location": ca});
    let mut got = Vec::new();
    for _ in 0..30 {
        let out = oracle::call(
            &json!({"op": "consume", "bootstrap": b.bootstrap, "topic": remote,
            "partitions": 2, "expect": records.len(), "timeout": 5, "config": tls}),
        );
        got = out["records"].as_array().cloned().unwrap_or_default();
        if got.len() >= records.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    flow.stop().await;
    assert_eq!(
        got.len(),
        records.len(),
        "librdkafka read every record over TLS"
    );
    crate::forward::assert_same(&got, &records, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_pkcs12_and_pem_keystores() {
    if skip_without_stunnel("mutual_tls_with_pkcs12_and_pem_keystores") {
        return;
    }
    let pki = Pki::generate(&["localhost", "127.0.0.1"]);
    let b = TlsBroker::start(&pki, "127.0.0.1", true);
    // PKCS12 key and trust stores (Kafka's default JKS type reads PKCS12, as Java does).
    let p12 = pki.client_p12.display().to_string();
    let ts = pki.ca_p12.display().to_string();
    let c = try_connect(
        &b.bootstrap,
        secured(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ts),
            ("ssl.truststore.password", P12_PASSWORD),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &p12),
            ("ssl.keystore.password", P12_PASSWORD),
            ("ssl.key.password", P12_PASSWORD),
        ])),
    )
    .await
    .expect("PKCS12 stores connect");
    // PEM strings in the config.
    let read = |p: &std::path::Path| std::fs::read_to_string(p).expect("read PEM");
    let (chain_pem, key_pem) = (read(&pki.client_cert), read(&pki.client_key));
    try_connect(
        &b.bootstrap,
        secured(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", &pki.ca_pem),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &chain_pem),
            ("ssl.keystore.key", &key_pem),
        ])),
    )
    .await
    .expect("PEM strings connect");
    // No client certificate: the endpoint refuses.
    let ca = pki.ca.display().to_string();
    let err = match try_connect(
        &b.bootstrap,
        secured(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &ca),
        ])),
    )
    .await
    {
        Ok(_) => panic!("connected without a client certificate"),
        Err(e) => e,
    };
    eprintln!("without a client certificate: {err}");
    assert!(
        err.contains("TLS") || err.contains("closed") || err.contains("reset"),
        "{err}"
    );
    // librdkafka with the same certificate gets in: the endpoint is real mTLS.
    let t = topic_name("mtls");
    create(&c, &t, 1).await;
    let out = oracle::call(
        &json!({"op": "produce", "bootstrap": b.bootstrap, "topic": t,
        "records": sample_records(3, 1),
        "config": {"security.protocol": "SSL", "ssl.ca.location": ca,
                   "ssl.certificate.location": pki.client_cert.display().to_string(),
                   "ssl.key.location": pki.client_key.display().to_string()}}),
    );
    assert!(
        out["errors"].as_array().is_none_or(|e| e.is_empty()),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_say_what_failed() {
    if skip_without_stunnel("tls_failures_say_what_failed") {
        return;
    }
    // The certificate names a host that is not the one we connect to.
    let pki = Pki::generate(&["broker.example"]);
    let b = TlsBroker::start(&pki, "127.0.0.1", false);
    let ca = pki.ca.display().to_string();
    let other = pki.other_ca.display().to_string();
    let tls = |ca: &str, verify: Option<&str>| {
        let mut p = props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", ca),
        ]);
        if let Some(v) = verify {
            p.insert("ssl.endpoint.identification.algorithm".into(), v.into());
        }
        secured(&p)
    };
    let err = refused(&b.bootstrap, tls(&ca, None), "host name mismatch refused").await;
    assert!(err.contains("not valid for name"), "{err}");
    assert_eq!(
        kmirror::engine::connect_hint(&err)
            .map(|h| h.contains("ssl.endpoint.identification.algorithm")),
        Some(true)
    );
    let err = refused(&b.bootstrap, tls(&other, None), "wrong CA refused").await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(kmirror::engine::connect_hint(&err).is_some_and(|h| h.contains("truststore")));
    // Host name checks off: the chain is still verified.
    try_connect(&b.bootstrap, tls(&ca, Some("")))
        .await
        .expect("connects without host name verification");
    let err = refused(
        &b.bootstrap,
        tls(&other, Some("")),
        "wrong CA refused even without host name checks",
    )
    .await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    // TLS against a plaintext listener.
    let err = refused(
        &b.plaintext,
        tls(&ca, Some("")),
        "plaintext listener refused",
    )
    .await;
    eprintln!("TLS to a plaintext listener: {err}");
}

fn sasl(mechanism: &str, user: &str, password: &str) -> BTreeMap<String, String> {
    let module = if mechanism == "PLAIN" {
        "org.apache.kafka.common.security.plain.PlainLoginModule"
    } else {
        "org.apache.kafka.common.security.scram.ScramLoginModule"
    };
    props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", mechanism),
        (
            "sasl.jaas.config",
            &format!(r#"{module} required username="{user}" password="{password}";"#),
        ),
    ])
}

fn say_tansu_cannot_authenticate(test: &str) {
    crate::harness::not_run(
        test,
        "a broker that verifies SASL passwords (tansu 0.6.0's credential store drops every user, answers every SCRAM login with e=unknown-user and has no PLAIN): the SASL server here is tests/it/sasl_proxy.py in front of tansu",
        "client::sasl unit tests (RFC 7677 and SHA-512 vectors) and secure::tansu_own_scram_is_refused_because_it_cannot_prove_the_password",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_scram_authenticate_and_wrong_passwords_are_named() {
    say_tansu_cannot_authenticate("secure::plain_and_scram_authenticate (SASL server)");
    let b = SaslBroker::start(&["alice:alice-secret"], 0, None);
    for mech in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        let c = try_connect(&b.bootstrap, secured(&sasl(mech, "alice", "alice-secret")))
            .await
            .unwrap_or_else(|e| panic!("{mech}: {e}"));
        // librdkafka authenticates against the same server: it is real SASL.
        let t = topic_name("sasl");
        create(&c, &t, 1).await;
        let out = oracle::call(
            &json!({"op": "produce", "bootstrap": b.bootstrap, "topic": t,
            "records": sample_records(2, 1),
            "config": {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mech,
                       "sasl.username": "alice", "sasl.password": "alice-secret"}}),
        );
        assert!(
            out["errors"].as_array().is_none_or(|e| e.is_empty()),
            "{mech}: {out}"
        );
        let err = refused(
            &b.bootstrap,
            secured(&sasl(mech, "alice", "not-the-password")),
            "wrong password",
        )
        .await;
        assert!(err.contains("SASL_AUTHENTICATION_FAILED"), "{mech}: {err}");
        assert!(err.contains(mech), "{mech}: {err}");
        assert!(!err.contains("not-the-password"), "{err}");
        assert!(
            kmirror::engine::connect_hint(&err).is_some_and(|h| h.contains("sasl.jaas.config"))
        );
    }
    let (ok, _) = b.authentications();
    assert!(ok >= 6, "{ok} authentications seen by the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_sessions_are_renewed_before_the_broker_expires_them() {
    say_tansu_cannot_authenticate("secure::sasl_sessions_are_renewed (KIP-368)");
    // The server grants 1.5 s sessions and closes a connection used after expiry.
    let b = SaslBroker::start(&["alice:alice-secret"], 1500, None);
    let c = try_connect(
        &b.bootstrap,
        secured(&sasl("SCRAM-SHA-512", "alice", "alice-secret")),
    )
    .await
    .expect("connects");
    for _ in 0..25 {
        c.refresh_metadata(None)
            .await
            .unwrap_or_else(|e| panic!("request failed across renewals: {}", chain(&e)));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, expired) = b.authentications();
    assert!(
        ok >= 3,
        "5 s of 1.5 s sessions need renewals: {ok} authentications"
    );
    assert_eq!(expired, 0, "no request was sent on an expired session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_own_scram_is_refused_because_it_cannot_prove_the_password() {
    // tansu 0.6.0 ends every SCRAM exchange with e=unknown-user (error code 0)
    // yet treats the connection as authenticated: a client that did not check
    // the server-final message would carry on. kmirror stops.
    let b = TansuWithAuthentication::start();
    let err = refused(
        &b.bootstrap,
        secured(&sasl("SCRAM-SHA-256", "alice", "alice-secret")),
        "tansu cannot verify",
    )
    .await;
    assert!(err.contains("unknown-user"), "{err}");
    let err = refused(
        &b.bootstrap,
        secured(&sasl("PLAIN", "alice", "alice-secret")),
        "tansu has no PLAIN",
    )
    .await;
    eprintln!("PLAIN against tansu --authentication: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmirror_run_config_replicates_from_a_sasl_ssl_cluster_with_secrets_from_a_file() {
    if skip_without_stunnel("kmirror_run_config_replicates_from_a_sasl_ssl_cluster") {
        return;
    }
    say_tansu_cannot_authenticate(
        "secure::kmirror_run_config_replicates_from_a_sasl_ssl_cluster (SASL server)",
    );
    let pki = Pki::generate(&["localhost", "127.0.0.1"]);
    let a = SaslBroker::start(&["mirror:m1rr0r-pw"], 0, Some(&pki));
    let b = Broker::start(2);
    // Data goes in with librdkafka over SASL_SSL.
    let t = topic_name("saslssl");
    let ca = pki.ca.display().to_string();
    let admin = try_connect(
        &a.bootstrap,
        secured(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &ca),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="m1rr0r-pw";"#,
            ),
        ])),
    )
    .await
    .expect("SASL_SSL connects");
    create(&admin, &t, 2).await;
    let records = sample_records(30, 2);
    let out = oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t, "records": records,
        "config": {"security.protocol": "SASL_SSL", "ssl.ca.location": ca, "sasl.mechanism": "SCRAM-SHA-256",
                   "sasl.username": "mirror", "sasl.password": "m1rr0r-pw"}}),
    );
    assert!(
        out["errors"].as_array().is_none_or(|e| e.is_empty()),
        "{out}"
    );
    // An MM2 file as an operator writes it; the password lives in a secrets file.
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, "mirror.password = m1rr0r-pw\n").expect("write secrets");
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\nA->B.enabled = true\nA->B.topics = {t}\n\
             refresh.topics.interval.seconds = 1\n\
             config.providers = file\nconfig.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n\
             A.security.protocol = SASL_SSL\nA.ssl.truststore.type = PEM\nA.ssl.truststore.location = {ca}\n\
             A.sasl.mechanism = SCRAM-SHA-256\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"mirror\" password=\"${{file:{}:mirror.password}}\";\n",
            a.bootstrap,
            b.bootstrap,
            secrets.display()
        ),
    )
    .expect("write config");
    // `kmirror check` shows the flow and never the password.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .arg("check")
        .arg(&file)
        .output()
        .expect("kmirror check runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.status.success(), "{text}");
    assert!(!text.contains("m1rr0r-pw"), "secret printed:\n{text}");
    assert!(text.contains("[hidden]"), "{text}");
    let cfg = kmirror::config::mm2::load(&file).expect("config loads");
    let flow_cfg = cfg.flow("A", "B").expect("flow A->B");
    let mut plan = FlowPlan::from_config(&cfg, flow_cfg).expect("plan");
    plan.fetch.max_wait = Duration::from_millis(100);
    let flow = Running::start(plan);
    let got = crate::forward::wait_for_records(&b, &format!("A.{t}"), 2, records.len()).await;
    flow.stop().await;
    crate::forward::assert_same(&got, &records, 2);
}
