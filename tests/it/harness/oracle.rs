//! The independent client: librdkafka through Python's confluent-kafka, driven
//! by `tests/it/oracle.py` with JSON on stdin/stdout.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs one oracle command and returns its JSON answer.
pub fn call(cmd: &serde_json::Value) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/oracle.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(cmd.to_string().as_bytes())
        .expect("write oracle command");
    let out = child.wait_with_output().expect("oracle finishes");
    assert!(
        out.status.success(),
        "oracle failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cmd
    );
    serde_json::from_slice(&out.stdout).expect("oracle prints json")
}
