//! Secured test brokers: certificates made by the test (rcgen), and tansu
//! behind a stunnel4 TLS endpoint (optionally requiring client certificates).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, spawn_tansu_advertising, tansu_bin};

/// A throwaway CA with a server and a client certificate, as PEM and PKCS12 files.
#[derive(Debug)]
pub struct Pki {
    /// Holds every file.
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The CA certificate's PEM text.
    pub ca_pem: String,
    /// Server certificate chain and key (PEM), for the TLS endpoint.
    pub server_cert: PathBuf,
    /// Server key (PEM).
    pub server_key: PathBuf,
    /// Client certificate (PEM).
    pub client_cert: PathBuf,
    /// Client key (PEM, unencrypted PKCS8).
    pub client_key: PathBuf,
    /// Client certificate and key as PKCS12, password [`P12_PASSWORD`].
    pub client_p12: PathBuf,
    /// The CA as a PKCS12 truststore, password [`P12_PASSWORD`].
    pub ca_p12: PathBuf,
    /// A CA that signed nothing here (for wrong-CA tests).
    pub other_ca: PathBuf,
}

/// Password of the generated PKCS12 files.
pub const P12_PASSWORD: &str = "test-store-pass";

fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).expect("CA cert"), key)
}

fn p12(path: &PathBuf, entry: p12_keystore::KeyStoreEntry) {
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("kmirror-test", entry);
    let bytes = store.writer(P12_PASSWORD).write().expect("PKCS12 encodes");
    std::fs::write(path, bytes).expect("write PKCS12");
}

impl Pki {
    /// A CA, a server certificate valid for `server_names` and a client certificate.
    pub fn generate(server_names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_cert, ca_key) = ca("kmirror test CA");
        let (other, _) = ca("unrelated CA");
        let leaf = |names: Vec<String>, cn: &str| {
            let key = rcgen::KeyPair::generate().expect("leaf key");
            let mut params = rcgen::CertificateParams::new(names).expect("leaf params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            let cert = params
                .signed_by(&key, &ca_cert, &ca_key)
                .expect("leaf signed");
            (cert, key)
        };
        let (server, server_key) = leaf(
            server_names.iter().map(|s| (*s).to_owned()).collect(),
            "broker",
        );
        let (client, client_key) = leaf(vec!["kmirror-client".into()], "kmirror-client");
        let path = |n: &str| dir.path().join(n);
        let write = |n: &str, text: &str| {
            std::fs::write(path(n), text).expect("write PEM");
            path(n)
        };
        let ca = write("ca.pem", &ca_cert.pem());
        let pki = Self {
            ca_pem: ca_cert.pem(),
            ca,
            server_cert: write("server.pem", &server.pem()),
            server_key: write("server.key", &server_key.serialize_pem()),
            client_cert: write("client.pem", &client.pem()),
            client_key: write("client.key", &client_key.serialize_pem()),
            client_p12: path("client.p12"),
            ca_p12: path("truststore.p12"),
            other_ca: write("other-ca.pem", &other.pem()),
            dir,
        };
        p12(
            &pki.client_p12,
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                client_key.serialize_der(),
                [7u8; 20],
                vec![
                    p12_keystore::Certificate::from_der(client.der()).expect("client der"),
                    p12_keystore::Certificate::from_der(ca_cert.der()).expect("CA der"),
                ],
            )),
        );
        p12(
            &pki.ca_p12,
            p12_keystore::KeyStoreEntry::Certificate(
                p12_keystore::Certificate::from_der(ca_cert.der()).expect("CA der"),
            ),
        );
        pki
    }
}

/// tansu on a private port behind a stunnel4 TLS endpoint that it advertises.
#[derive(Debug)]
pub struct TlsBroker {
    /// `host:port` of the TLS endpoint (`host` as the broker advertises it).
    pub bootstrap: String,
    /// tansu's own plaintext `127.0.0.1:port` (for setting up data).
    pub plaintext: String,
    tansu: Child,
    stunnel: Child,
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        for c in [&mut self.stunnel, &mut self.tansu] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The stunnel binary (Debian's `stunnel4` package), if installed.
pub fn stunnel_bin() -> Option<&'static str> {
    ["stunnel4", "stunnel"].into_iter().find(|b| {
        Command::new(b)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// stunnel on 127.0.0.1:`accept` terminating TLS with `pki`'s server
/// certificate and forwarding to 127.0.0.1:`connect`; with
/// `require_client_cert`, only clients with a certificate from `pki`'s CA get in.
fn spawn_stunnel(pki: &Pki, accept: u16, connect: u16, require_client_cert: bool) -> Child {
    let bin = stunnel_bin().expect("stunnel4 is installed by scripts/setup.sh");
    let conf = pki.dir.path().join(format!("stunnel-{accept}.conf"));
    let mut text = format!(
        "foreground = yes\npid =\nsyslog = no\ndebug = 3\n[kafka]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\ncert = {}\nkey = {}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    if require_client_cert {
        text.push_str(&format!(
            "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
            pki.ca.display()
        ));
    }
    std::fs::write(&conf, text).expect("write stunnel config");
    Command::new(bin)
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stunnel")
}

impl TlsBroker {
    /// Starts tansu advertising `advertised_host:P` and stunnel on
    /// 127.0.0.1:P terminating TLS with `pki`'s server certificate; with
    /// `require_client_cert`, only clients with a certificate from `pki`'s CA get in.
    pub fn start(pki: &Pki, advertised_host: &str, require_client_cert: bool) -> Self {
        super::init_logs();
        let tls_port = free_port();
        let plain_port = free_port();
        let tansu =
            spawn_tansu_advertising(&tansu_bin(), plain_port, advertised_host, tls_port, &[]);
        let stunnel = spawn_stunnel(pki, tls_port, plain_port, require_client_cert);
        let b = Self {
            bootstrap: format!("{advertised_host}:{tls_port}"),
            plaintext: format!("127.0.0.1:{plain_port}"),
            tansu,
            stunnel,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(&b.plaintext).is_ok()
                && TcpStream::connect(("127.0.0.1", tls_port)).is_ok()
            {
                return b;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tansu or stunnel did not start");
    }
}

/// tansu behind `tests/it/sasl_proxy.py`, a SASL server (PLAIN, SCRAM-SHA-256/512)
/// that verifies passwords itself, because tansu 0.6.0 cannot (its credential
/// store drops every user); optionally behind stunnel too (SASL_SSL).
#[derive(Debug)]
pub struct SaslBroker {
    /// `127.0.0.1:port` clients use (the TLS port with `tls`).
    pub bootstrap: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Drop for SaslBroker {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl SaslBroker {
    /// `users` as `name:password`; `lifetime_ms` is the session lifetime
    /// granted (KIP-368; 0 = none); with `tls`, stunnel terminates TLS first.
    pub fn start(users: &[&str], lifetime_ms: u64, tls: Option<&Pki>) -> Self {
        super::init_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        let (client_port, proxy_port, plain_port) = (free_port(), free_port(), free_port());
        let mut children = vec![spawn_tansu_advertising(
            &tansu_bin(),
            plain_port,
            "127.0.0.1",
            client_port,
            &[],
        )];
        let sasl_port = if tls.is_some() {
            proxy_port
        } else {
            client_port
        };
        let log = dir.path().join("sasl-proxy.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/sasl_proxy.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--listen", &format!("127.0.0.1:{sasl_port}")])
            .args(["--upstream", &format!("127.0.0.1:{plain_port}")])
            .args(["--session-lifetime-ms", &lifetime_ms.to_string(), "--quiet"]);
        for u in users {
            cmd.args(["--user", u]);
        }
        children.push(
            cmd.stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("proxy log"))
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sasl_proxy.py"),
        );
        if let Some(pki) = tls {
            children.push(spawn_stunnel(pki, client_port, proxy_port, false));
        }
        let b = Self {
            bootstrap: format!("127.0.0.1:{client_port}"),
            log,
            _dir: dir,
            children,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = std::fs::read_to_string(&b.log).is_ok_and(|l| l.contains("ready"));
            if ready
                && TcpStream::connect(("127.0.0.1", plain_port)).is_ok()
                && TcpStream::connect(&b.bootstrap).is_ok()
            {
                return b;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tansu, sasl_proxy.py or stunnel did not start");
    }

    /// Successful authentications so far, and sessions closed as expired.
    pub fn authentications(&self) -> (usize, usize) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        (
            log.matches("authenticated as").count(),
            log.matches("session expired").count(),
        )
    }
}

/// tansu started with `--authentication` (its own SASL server) on 127.0.0.1.
#[derive(Debug)]
pub struct TansuWithAuthentication {
    /// `127.0.0.1:port`.
    pub bootstrap: String,
    child: Child,
}

impl Drop for TansuWithAuthentication {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TansuWithAuthentication {
    /// Starts it and waits until it accepts connections.
    pub fn start() -> Self {
        let port = free_port();
        let b = Self {
            bootstrap: format!("127.0.0.1:{port}"),
            child: spawn_tansu_advertising(
                &tansu_bin(),
                port,
                "127.0.0.1",
                port,
                &["--authentication"],
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && TcpStream::connect(&b.bootstrap).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }
}
