//! One emulated device: its movement, its registration, and its two loops
//! (position reports and requests) on its own clock.

use std::time::Duration;

use mcc_proto::v1::{
    DeviceRequest, GeoPoint, GetSummaryRequest, Outcome, RegisterDeviceRequest,
    ReportPositionRequest, register_device_request,
};
use tokio::time::Instant;

use super::rows::{Breakdown, RequestRow};
use super::{Client, FleetConfig, FleetError, Movement, RowSender};
use crate::arrivals::RequestClock;
use crate::position::LatLon;
use crate::random_waypoint::{RandomWaypoint, WaypointArea};
use crate::trace::{Edge, Trace};

/// The area the emulator says devices can be in, if it says.
pub(super) async fn emulator_area(
    client: &Client,
    config: &FleetConfig,
) -> Result<Option<WaypointArea>, FleetError> {
    if !matches!(config.movement, Movement::RandomWaypoint { .. }) {
        return Ok(None);
    }
    let summary = client
        .clone()
        .get_summary(GetSummaryRequest {})
        .await
        .map_err(|s| FleetError::refused("GetSummary", &s))?
        .into_inner();
    let corner =
        |p: Option<GeoPoint>| p.and_then(|p| LatLon::new(p.latitude_deg, p.longitude_deg).ok());
    match summary.area {
        Some(area) => match (corner(area.south_west), corner(area.north_east)) {
            (Some(south_west), Some(north_east)) => Ok(Some(WaypointArea::BBox {
                south_west,
                north_east,
            })),
            _ => Err(FleetError::Config(
                "the emulator reported an area with a missing or invalid corner; give --trace files"
                    .into(),
            )),
        },
        None => Err(FleetError::Config(
            "the emulator does not report its area (an older mcc-emu?); give --trace files".into(),
        )),
    }
}

/// A seed for stream `stream` of device `index`, mixed from the fleet's seed
/// (SplitMix64 finaliser: nearby inputs give unrelated seeds).
fn device_seed(seed: u64, index: usize, stream: u64) -> u64 {
    let mut z = seed
        ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A device before it registers: its id, number and movement.
#[derive(Debug)]
pub(super) struct DevicePlan {
    id: String,
    index: usize,
    trace: Trace,
}

impl DevicePlan {
    pub(super) fn new(
        config: &FleetConfig,
        index: usize,
        area: Option<WaypointArea>,
    ) -> Result<Self, FleetError> {
        let id = format!("{}{index}", config.id_prefix);
        let trace = match &config.movement {
            Movement::Traces(traces) => traces
                .get(index % traces.len().max(1))
                .cloned()
                .ok_or_else(|| FleetError::Config("no trace to follow".into()))?,
            Movement::RandomWaypoint { speed_mps, pause_s } => {
                let area = area.ok_or_else(|| {
                    FleetError::Config("random waypoint needs the emulator's area".into())
                })?;
                RandomWaypoint {
                    area,
                    speed_mps: *speed_mps,
                    pause_s: *pause_s,
                    duration_s: config.duration_s * config.speed + 1.0,
                    seed: device_seed(config.seed, index, 2),
                }
                .generate(id.clone())
                .map_err(|e| FleetError::Config(e.to_string()))?
            }
        };
        Ok(Self { id, index, trace })
    }

    /// Where the device is `elapsed_s` wall seconds after the start.
    fn position_at(&self, elapsed_s: f64, speed: f64) -> GeoPoint {
        let at = self
            .trace
            .position_at(self.trace.first().t_s + elapsed_s * speed, Edge::Hold);
        GeoPoint {
            latitude_deg: at.lat_deg,
            longitude_deg: at.lon_deg,
        }
    }

    /// Registers the device at its first position.
    pub(super) async fn register(self, client: &Client) -> Result<Self, FleetError> {
        let position = self.position_at(0.0, 1.0);
        client
            .clone()
            .register_device(RegisterDeviceRequest {
                device_id: self.id.clone(),
                movement: Some(register_device_request::Movement::Position(position)),
            })
            .await
            .map_err(|s| FleetError::refused(format!("RegisterDevice {}", self.id), &s))?;
        Ok(self)
    }

    /// The device's id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Runs the device from `start` for the configured duration: position
    /// reports and requests on two tasks, then waits for the answers still
    /// outstanding (each bounded by the request timeout). Each request's
    /// row goes to `rows` as it ends; `in_flight` counts the fleet's
    /// requests in flight (bounded by [`FleetConfig::max_in_flight`]).
    pub(super) async fn run(
        self,
        client: Client,
        config: &FleetConfig,
        start: Instant,
        rows: RowSender,
        in_flight: InFlightCount,
    ) -> DeviceOutcome {
        let plan = std::sync::Arc::new(self);
        let positions = tokio::spawn(report_positions(
            plan.clone(),
            client.clone(),
            config.clone(),
            start,
        ));
        send_requests(plan, client, config, start, rows, in_flight).await;
        let (position_errors, handovers) = positions
            .await
            .unwrap_or_else(|e| (vec![format!("position task failed: {e}")], 0));
        DeviceOutcome {
            position_errors,
            handovers,
        }
    }
}

/// What one device produced besides its rows.
pub(super) struct DeviceOutcome {
    pub(super) position_errors: Vec<String>,
    pub(super) handovers: u64,
}

/// Pushes the device's position every interval until the duration is over;
/// returns the failed reports and the hand-overs the emulator reported.
async fn report_positions(
    plan: std::sync::Arc<DevicePlan>,
    mut client: Client,
    config: FleetConfig,
    start: Instant,
) -> (Vec<String>, u64) {
    let mut errors = Vec::new();
    let mut handovers = 0;
    let mut at_s = config.position_interval_s;
    while at_s < config.duration_s {
        tokio::time::sleep_until(start + Duration::from_secs_f64(at_s)).await;
        let request = ReportPositionRequest {
            device_id: plan.id.clone(),
            position: Some(plan.position_at(at_s, config.speed)),
        };
        match client.report_position(request).await {
            Ok(answer) => handovers += u64::from(answer.into_inner().handed_over),
            Err(status) => errors.push(format!(
                "{} at {at_s:.1} s: {:?}: {}",
                plan.id,
                status.code(),
                status.message()
            )),
        }
        at_s += config.position_interval_s;
    }
    (errors, handovers)
}

/// Sends requests at the configured arrivals until the duration is over,
/// each on its own task, which sends its row to `rows` when it ends.
async fn send_requests(
    plan: std::sync::Arc<DevicePlan>,
    client: Client,
    config: &FleetConfig,
    start: Instant,
    rows: RowSender,
    fleet_in_flight: InFlightCount,
) {
    let mut in_flight = tokio::task::JoinSet::new();
    let device = u32::try_from(plan.index).unwrap_or(u32::MAX);
    let mut clock = RequestClock::new(config.arrivals, config.rate_hz, config.seed, device);
    let duration = Duration::try_from_secs_f64(config.duration_s).unwrap_or(Duration::MAX);
    let mut at = Duration::from_nanos(clock.first_ns());
    for request_id in 0u64.. {
        if at >= duration {
            break;
        }
        tokio::time::sleep_until(start + at).await;
        // Reap the requests answered meanwhile: a finished task keeps its
        // whole future's memory until it is joined, which grew the client
        // by gigabytes over a run at 10,000 requests/s.
        while in_flight.try_join_next().is_some() {}
        let Some(slot) = InFlightSlot::take(&fleet_in_flight, config.max_in_flight) else {
            // The fleet has its bound in flight: the request is not sent.
            let _ = rows.send(not_sent(&plan, request_id, at)).await;
            at = at.saturating_add(Duration::from_nanos(clock.gap_ns()));
            continue;
        };
        let rows = rows.clone();
        let one = send_one(
            plan.clone(),
            client.clone(),
            config.request,
            config.request_timeout,
            request_id,
            start,
        );
        in_flight.spawn(async move {
            let row = one.await;
            drop(slot);
            // The writer gone (it failed) is reported at the end.
            let _ = rows.send(row).await;
        });
        at = at.saturating_add(Duration::from_nanos(clock.gap_ns()));
    }
    while in_flight.join_next().await.is_some() {}
}

/// The fleet's requests in flight, shared by its devices.
pub(super) type InFlightCount = std::sync::Arc<std::sync::atomic::AtomicUsize>;

/// One request in flight of the fleet's [`FleetConfig::max_in_flight`].
struct InFlightSlot(InFlightCount);

impl InFlightSlot {
    /// A slot, or `None` when the fleet has `max` in flight.
    fn take(count: &InFlightCount, max: usize) -> Option<Self> {
        use std::sync::atomic::Ordering;
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count.clone()))
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The row of request `request_id` due at `at` (since the start) that was
/// not sent: the fleet had its bound in flight.
fn not_sent(plan: &DevicePlan, request_id: u64, at: Duration) -> RequestRow {
    RequestRow {
        device: plan.id.clone(),
        device_index: plan.index,
        request_id,
        time_s: at.as_secs_f64(),
        delay_ms: 0.0,
        host: String::new(),
        outcome: "not_sent".into(),
        breakdown: None,
    }
}

/// Sends one request and measures its delay on this process's clock.
async fn send_one(
    plan: std::sync::Arc<DevicePlan>,
    mut client: Client,
    shape: super::RequestShape,
    timeout: Duration,
    request_id: u64,
    start: Instant,
) -> RequestRow {
    let payload = vec![0u8; usize::try_from(shape.payload_bytes).unwrap_or(usize::MAX)];
    let mut request = tonic::Request::new(DeviceRequest {
        device_id: plan.id.clone(),
        request_id,
        payload,
        cpu_cost_us: shape.cpu_cost_us,
        response_bytes: shape.response_bytes,
    });
    request.set_timeout(timeout);
    let sent = Instant::now();
    let answer = tokio::time::timeout(timeout, client.send_request(request)).await;
    let delay = sent.elapsed();
    let mut row = RequestRow {
        device: plan.id.clone(),
        device_index: plan.index,
        request_id,
        time_s: sent.duration_since(start).as_secs_f64(),
        delay_ms: delay.as_secs_f64() * 1e3,
        host: String::new(),
        outcome: String::new(),
        breakdown: None,
    };
    match answer {
        Err(_) => row.outcome = "client_timeout".into(),
        Ok(Err(status)) => row.outcome = format!("error:{}", code_name(status.code())),
        Ok(Ok(answer)) => {
            let answer = answer.into_inner();
            row.host = answer.host_id;
            row.outcome = outcome_name(answer.outcome).into();
            row.breakdown = answer.delay.map(|d| Breakdown {
                access_us: d.access_us,
                backbone_us: d.backbone_us,
                queueing_us: d.queueing_us,
                processing_us: d.processing_us,
                migration_stall_us: d.migration_stall_us,
                total_us: d.total_us,
            });
        }
    }
    row
}

/// The CSV name of an emulator outcome.
fn outcome_name(outcome: i32) -> &'static str {
    match Outcome::try_from(outcome) {
        Ok(Outcome::Ok) => "ok",
        Ok(Outcome::TimedOut) => "timed_out",
        Ok(Outcome::NoVm) => "no_vm",
        Ok(Outcome::Rejected) => "rejected",
        Ok(Outcome::NoCoverage) => "no_coverage",
        Ok(Outcome::Unspecified) | Err(_) => "unspecified",
    }
}

/// A gRPC code in snake case (`not_found`, `unavailable`...).
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_in_snake_case() {
        assert_eq!(code_name(tonic::Code::NotFound), "not_found");
        assert_eq!(code_name(tonic::Code::Unavailable), "unavailable");
        assert_eq!(
            code_name(tonic::Code::DeadlineExceeded),
            "deadline_exceeded"
        );
    }

    #[test]
    fn slots_stop_at_the_bound_and_come_back_when_dropped() {
        let count = InFlightCount::default();
        let first = InFlightSlot::take(&count, 2).expect("one free");
        let second = InFlightSlot::take(&count, 2).expect("two free");
        assert!(InFlightSlot::take(&count, 2).is_none());
        drop(first);
        let third = InFlightSlot::take(&count, 2).expect("one given back");
        drop((second, third));
        assert_eq!(count.load(std::sync::atomic::Ordering::Acquire), 0);
    }

    #[test]
    fn device_seeds_differ_by_device_and_stream_and_repeat() {
        assert_eq!(device_seed(1, 2, 1), device_seed(1, 2, 1));
        assert_ne!(device_seed(1, 2, 1), device_seed(1, 3, 1));
        assert_ne!(device_seed(1, 2, 1), device_seed(1, 2, 2));
        assert_ne!(device_seed(1, 2, 1), device_seed(2, 2, 1));
    }
}
