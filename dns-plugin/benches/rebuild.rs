//! What one control-loop tick costs the snapshot at scale: the clusterset of
//! `bench/gen-clusterset.sh 10000` (5 clusters, 1,000 services Optimized), rebuilt from the
//! previous snapshot as every tick does. The Optimized services' shares move on every tick, so
//! each rebuild decides all 1,000 and renders them again, and shares the 9,000 others.
//!
//!     cargo bench -p aviator-dns --bench rebuild
//!
//! `AVIATOR_BENCH_SERVICES` sets another size (a tenth of them Optimized), and
//! `AVIATOR_BENCH_REBUILDS=N` does N rebuilds and nothing else, for a profiler that counts
//! instructions (timings on a shared machine vary by a third from run to run):
//!
//!     for n in 0 20; do AVIATOR_BENCH_SERVICES=1000 AVIATOR_BENCH_REBUILDS=$n \
//!       valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n BENCH_BINARY --bench; done

use std::path::Path;
use std::process::Command;

use aviator_dns::snapshot::{Nameserver, Snapshot, build};
use criterion::{Criterion, criterion_group, criterion_main};

fn generated(services: usize) -> aviator_broker::state::ClusterSet {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/gen-clusterset.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(services.to_string())
        .output()
        .expect("run bench/gen-clusterset.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    aviator_broker::clusterset::parse(&text, Path::new("generated.yaml")).expect("valid")
}

fn rebuild(c: &mut Criterion) {
    let services = std::env::var("AVIATOR_BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let set = generated(services);
    let nameserver = Nameserver::default();
    let mut previous: Snapshot = build(&set, None, &nameserver).expect("first build");
    if let Some(n) = std::env::var("AVIATOR_BENCH_REBUILDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for _ in 0..n {
            previous = build(&set, Some(&previous), &nameserver).expect("rebuild");
        }
        std::process::exit(0);
    }
    let mut group = c.benchmark_group("rebuild");
    group.sample_size(20);
    let name = format!("{services} services, {} Optimized", services / 10);
    group.bench_function(name, |b| {
        b.iter(|| {
            previous = build(&set, Some(&previous), &nameserver).expect("rebuild");
            previous.rendered()
        })
    });
    group.finish();
}

criterion_group!(benches, rebuild);
criterion_main!(benches);
