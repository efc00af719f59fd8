//! Encode and decode time per codec for 1000 realistic user records, and their size.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reference_app::codec::Codec;
use reference_app::model::{Profile, sample_profiles};
use strum::IntoEnumIterator;

fn codecs(c: &mut Criterion) {
    let users = sample_profiles(1000);
    let json_len = Codec::Json.encode(&users).unwrap().len();
    for codec in Codec::iter() {
        let len = codec.encode(&users).unwrap().len();
        println!(
            "size/{:<16} {:>7} bytes for 1000 users ({:+.0} % vs JSON)",
            codec.as_ref(),
            len,
            (len as f64 / json_len as f64 - 1.0) * 100.0
        );
    }
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(users.len() as u64));
    for codec in Codec::iter() {
        group.bench_with_input(
            BenchmarkId::new("encode", codec.as_ref()),
            &codec,
            |b, &codec| b.iter(|| codec.encode(&users).unwrap()),
        );
        let bytes = codec.encode(&users).unwrap();
        group.bench_with_input(
            BenchmarkId::new("decode", codec.as_ref()),
            &codec,
            |b, &codec| b.iter(|| codec.decode::<Vec<Profile>>(&bytes).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
