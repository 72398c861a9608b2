//! Micro benches of the zero-copy core over a ~1 MiB fetch-response records
//! blob, each next to a plain memcpy of the same bytes so the figures read as
//! ratios (house-style §5.9).
//!
//! The blob repeats the librdkafka 2.16 lz4 and uncompressed fixtures
//! (`testdata/batches`, 200 records each); base offsets are not renumbered.
//!
//! Run: `cargo bench --bench batch -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmirror_protocol::batch::rewrite::{HeaderRewrite, ProducerFields, rewrite};
use kmirror_protocol::batch::{RawBatch, batches, records};

const LZ4: &[u8] = include_bytes!("../testdata/batches/librdkafka-2.16_lz4_headers_idempotent.bin");
const NONE: &[u8] =
    include_bytes!("../testdata/batches/librdkafka-2.16_none_headers_idempotent.bin");

/// Size the blob grows to (it ends on a whole batch just past this).
const TARGET: usize = 1 << 20;

fn blob() -> Bytes {
    let mut v = Vec::with_capacity(TARGET + LZ4.len() + NONE.len());
    while v.len() < TARGET {
        v.extend_from_slice(LZ4);
        v.extend_from_slice(NONE);
    }
    Bytes::from(v)
}

fn v2(
    entry: Result<RawBatch, kmirror_protocol::error::BatchError>,
) -> kmirror_protocol::batch::RecordBatch {
    match entry.expect("fixture blob splits") {
        RawBatch::V2(b) => b,
        RawBatch::Legacy(_) => unreachable!("fixtures are magic 2"),
    }
}

fn bench_batch(c: &mut Criterion) {
    let blob = blob();
    let n_batches = batches(blob.clone()).count();
    let producer = HeaderRewrite::new(ProducerFields {
        producer_id: 4242,
        producer_epoch: 0,
        base_sequence: 0,
    });
    let mut g = c.benchmark_group(format!(
        "batch_{}KiB_{n_batches}_batches",
        blob.len() / 1024
    ));
    g.throughput(Throughput::Bytes(blob.len() as u64));
    g.bench_function("memcpy_to_vec", |b| b.iter(|| black_box(blob[..].to_vec())));
    g.bench_function("split", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for entry in batches(black_box(blob.clone())) {
                n += v2(entry).size();
            }
            black_box(n)
        })
    });
    g.bench_function("split_verify_crc", |b| {
        b.iter(|| {
            for entry in batches(black_box(blob.clone())) {
                v2(entry).verify_crc().expect("fixture CRCs are valid");
            }
        })
    });
    g.bench_function("split_rewrite_crc", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for entry in batches(black_box(blob.clone())) {
                let out = rewrite(&v2(entry), &producer).expect("fixture rewrites");
                n += out.len();
                black_box(out);
            }
            black_box(n)
        })
    });
    g.bench_function("split_decode_records", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for entry in batches(black_box(blob.clone())) {
                n += records::decode(&v2(entry)).expect("fixture decodes").len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_batch);
criterion_main!(benches);
