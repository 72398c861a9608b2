//! Writes the hand-made seeds of `kmirror_protocol::fuzzing::seeds()` into
//! `<dir>/<target>/seed-<name>` (tansu's `generate_seeds`). Used by `seed.sh`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let seeds = kmirror_protocol::fuzzing::seeds();
    for (target, name, bytes) in &seeds {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("seed-{name}")), bytes)?;
    }
    println!(
        "wrote {} hand-made seeds under {}",
        seeds.len(),
        dir.display()
    );
    Ok(())
}
