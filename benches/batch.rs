//! Micro benches of the zero-copy core over a ~1 MiB fetch-response records
//! blob, each next to a plain memcpy of the same bytes (into a buffer
//! allocated beforehand) so the figures read as ratios (house-style §5.9).
//! `rewrite_crc` runs over batches split beforehand; `split_rewrite_crc`
//! includes the split.
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
    // The baseline: one plain copy into a buffer allocated beforehand.
    let mut dst = vec![0u8; blob.len()];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&blob[..]));
            black_box(&mut dst);
        })
    });
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
    // Rewrite + CRC alone (source CRC verified, new one computed) over
    // batches split beforehand.
    let split: Vec<_> = batches(blob.clone()).map(v2).collect();
    g.bench_function("rewrite_crc", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for v in black_box(&split) {
                let out = rewrite(v, &producer).expect("fixture rewrites");
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
