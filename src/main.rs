fn main() {
    println!("kmirror {}", env!("CARGO_PKG_VERSION"));
}
