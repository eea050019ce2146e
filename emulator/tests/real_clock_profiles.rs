//! A profile with drawn sizes: both clocks give each request the same CPU
//! time (the real clock spins it and measures what it took).

mod common;
use common::{mcc_emu, repo, rows};

use std::collections::BTreeMap;
use std::path::Path;

fn processing(dir: &Path) -> BTreeMap<(String, String), f64> {
    rows(dir, "requests.csv")
        .into_iter()
        .map(|r| {
            let ms: f64 = r["processing_ms"].parse().unwrap();
            ((r["time_s"].clone(), r["device"].clone()), ms)
        })
        .collect()
}

#[test]
fn both_clocks_draw_the_same_cpu_for_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("profiles.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"
seed = 11
duration_s = 20
[topology]
file = "{}"
[[devices]]
trace = "{}"
count = 2
stagger_s = 1000
speedup = 20
profile = "sensor"
[profiles.sensor]
rate_hz = 2
request_bytes = {{ dist = "uniform", min = 500, max = 5000 }}
response_bytes = {{ dist = "empirical", values = [100, 2000] }}
cpu_ms = {{ dist = "lognormal", mean = 5, sd = 2 }}
[vm]
memory_mib = 4
working_set_mib = 1
dirty_rate_pps = 200
"#,
            repo("topologies/small-real-topology.toml").display(),
            repo("topologies/traces/bus-304-limerick.gpx").display()
        ),
    )
    .unwrap();
    let (virt, real) = (dir.path().join("virtual"), dir.path().join("real"));
    let s = scenario.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = mcc_emu(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["run", s, "--out", virt.to_str().unwrap()]);
    run(&[
        "run",
        s,
        "--clock",
        "real",
        "--speed",
        "10",
        "--out",
        real.to_str().unwrap(),
    ]);
    let (v, r) = (processing(&virt), processing(&real));
    assert_eq!(v.len(), 80);
    assert_eq!(v.keys().collect::<Vec<_>>(), r.keys().collect::<Vec<_>>());
    let distinct: std::collections::BTreeSet<u64> =
        v.values().map(|ms| (ms * 1e3) as u64).collect();
    assert!(distinct.len() > 40, "drawn per request: {}", distinct.len());
    // The real clock spins the drawn time and measures it: never less (a
    // fixed or mean cost would fall short on the longer draws). How much
    // more depends on the machine's load, so no upper bound is asserted.
    let longest = v.values().copied().fold(0.0, f64::max);
    assert!(longest > 8.0, "{longest}");
    for (key, ms) in &v {
        let measured = r[key];
        assert!(
            measured >= ms - 0.01,
            "{key:?}: drew {ms} ms, ran {measured} ms"
        );
    }
}
