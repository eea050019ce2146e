//! Built-in application profiles, with the published measurements behind
//! each figure (`docs/workloads.md` gives the same table with the sources).
//!
//! | name | rate | request bytes | response bytes | CPU per request |
//! |---|---|---|---|---|
//! | `face-recognition` | 17 Hz periodic | 27,648 fixed | 512 fixed | lognormal 58.9 ± 15.36 ms |
//! | `ar-cognitive-assistance` | 10 Hz periodic | uniform 2,500-18,750 | uniform 1,000-5,000 | lognormal 58.46 ± 6.376 ms |
//! | `video-analytics` | 1 Hz periodic | uniform 25,000-187,500 | uniform 1,000-5,000 | 4 × lognormal 58.46 ± 6.376 ms |
//! | `iot-telemetry` | 1.296e-4 Hz Poisson | empirical 20-66 (mean 31.4) | 0 | 0 |
//!
//! Sources: OpenFace "Models and Accuracies" page, Performance table
//! (nn4.small2.v1 on an 8-core 3.70 GHz CPU with OpenBLAS, 500 forward
//! passes; 128-dimensional embeddings; 96×96 RGB input); ncnn's benchmark
//! table (YOLOv4-tiny at 416×416 on one AMD EPYC 7742 core) and MLPerf
//! Inference v0.5 (an SSD detector's per-frame spread on a Xeon); 3GPP TR
//! 22.874 (5G system support for AI/ML model transfer), the split image
//! recognition table (uplink 200-1500 kbit/s for YOLOv3, FPN inference at
//! 4-10 fps, "few kBytes per request" of information retrieval); Gabriel's
//! flow control (one frame in flight per client: a client sends at the rate
//! the server answers); 3GPP TR 45.820 (Cellular IoT) Annex E, mobile
//! autonomous reporting, periodic reports (payload Pareto α = 2.5 from 20
//! bytes, cut at 200; period 1 day / 2 h / 1 h / 30 min for 40/40/15/5 % of
//! devices).

use mcc_mobile_client::workload::{Dist, RequestSizes};

use super::world::{Arrivals, Workload};

/// The names of the built-in profiles.
pub const BUILTIN_PROFILES: [&str; 4] = [
    "face-recognition",
    "ar-cognitive-assistance",
    "video-analytics",
    "iot-telemetry",
];

const MS: f64 = 1e6;

/// One object detection on one server core, in nanoseconds: YOLOv4-tiny at
/// 416×416 (the input of the YOLOv3 that TR 22.874 names), 58.46 ms on one
/// thread of an AMD EPYC 7742 (ncnn's `benchncnn`, `benchmark/README.md` of
/// Tencent/ncnn, added in commit c8e6e18). The spread is an SSD detector's
/// over COCO images on a Xeon E5-2650 v3 (MLPerf Inference v0.5, dividiti's
/// TensorFlow CPU result: p50 20.67 ms, p99 26.62 ms, a lognormal σ of
/// 0.1088), a coefficient of variation of 10.91 %: ± 6.376 ms. `frames`
/// detections in one request cost `frames` times one, fully correlated.
fn detection_ns(frames: f64) -> Dist {
    lognormal(58.46 * MS * frames, 6.376 * MS * frames)
}

fn lognormal(mean: f64, sd: f64) -> Dist {
    // The figures below are positive constants: this cannot fail.
    Dist::lognormal(mean, sd).unwrap_or(Dist::Fixed(mean))
}

fn uniform(min: f64, max: f64) -> Dist {
    Dist::Uniform { min, max }
}

/// The built-in profile called `name`, if there is one.
pub fn builtin(name: &str) -> Option<Workload> {
    // "few kBytes per request" of retrieved information (TR 22.874).
    let few_kb = || uniform(1_000.0, 5_000.0);
    let (rate_hz, arrivals, sizes) = match name {
        // One aligned 96×96 RGB face in, its 128-float embedding out, the
        // OpenFace nn4.small2.v1 forward pass on a CPU; one frame in flight
        // (Gabriel): 1 / 58.9 ms ≈ 17 frames a second.
        "face-recognition" => (
            17.0,
            Arrivals::Periodic,
            RequestSizes {
                request_bytes: Dist::Fixed((96 * 96 * 3) as f64),
                response_bytes: Dist::Fixed((128 * 4) as f64),
                cpu_ns: lognormal(58.9 * MS, 15.36 * MS),
            },
        ),
        // Frames of an AR object-recognition stream: 200-1500 kbit/s at
        // 10 frames a second (TR 22.874), a detection each.
        "ar-cognitive-assistance" => (
            10.0,
            Arrivals::Periodic,
            RequestSizes {
                request_bytes: uniform(200e3 / 8.0 / 10.0, 1_500e3 / 8.0 / 10.0),
                response_bytes: few_kb(),
                cpu_ns: detection_ns(1.0),
            },
        ),
        // One second of a camera's stream at 200-1500 kbit/s, analysed on 4
        // sampled frames (the bottom of TR 22.874's 4-10 fps).
        "video-analytics" => (
            1.0,
            Arrivals::Periodic,
            RequestSizes {
                request_bytes: uniform(200e3 / 8.0, 1_500e3 / 8.0),
                response_bytes: few_kb(),
                cpu_ns: detection_ns(4.0),
            },
        ),
        // TR 45.820 periodic reports: the mean rate over its period mix,
        // Poisson; payloads at the midpoints of ten deciles of the Pareto.
        "iot-telemetry" => (
            0.4 / 86_400.0 + 0.4 / 7_200.0 + 0.15 / 3_600.0 + 0.05 / 1_800.0,
            Arrivals::Poisson,
            RequestSizes {
                request_bytes: Dist::Empirical(
                    [20.0, 21.0, 22.0, 24.0, 25.0, 28.0, 30.0, 35.0, 43.0, 66.0].into(),
                ),
                response_bytes: Dist::Fixed(0.0),
                cpu_ns: Dist::Fixed(0.0),
            },
        ),
        _ => return None,
    };
    Some(Workload {
        name: name.to_string(),
        rate_hz,
        arrivals,
        sizes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_name_has_a_profile() {
        for name in BUILTIN_PROFILES {
            let p = builtin(name).unwrap();
            assert_eq!(p.name, name);
            assert!(p.rate_hz > 0.0);
        }
        assert!(builtin("nope").is_none());
        let face = builtin("face-recognition").unwrap();
        assert_eq!(face.mean_cpu_ns(), 58_900_000);
    }
}
