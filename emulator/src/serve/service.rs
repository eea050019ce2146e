//! The `EmulatorControl` service: the lifecycle (loaded, running, stopped)
//! and every call, over one [`RealEdge`] at a time.

use std::path::{Path, PathBuf};

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use mcc_proto::v1::emulator_control_server::EmulatorControl;
use mcc_proto::v1::{self, register_device_request};
use tokio::sync::RwLock;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::sandbox::{self, Sandbox, SandboxSource};
use super::{events, input, wire};
use crate::output::Summary;
use crate::realclock::{DeviceMovement, EdgeRequest, NodeLaunch, RealEdge, RealOptions};
use crate::scenario::{self, Scenario};

/// How the service runs its edges.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Trace seconds per wall-clock second when Start does not say.
    pub speed: f64,
    /// The only folder LoadScenario and RegisterDevice may name files in
    /// (`--scenarios DIR`); `None`: they may name none.
    pub scenarios: Option<Sandbox>,
    /// Where every run writes its outputs at its stop (requests.csv,
    /// handovers.csv, migrations.csv, summary.json, atomically; each run
    /// replaces the last); `None`: the `output` of the scenario the service
    /// started with (never that of a scenario a caller loads).
    pub out: Option<PathBuf>,
    /// Where each run's cloudlet nodes run.
    pub nodes: NodeLaunch,
}

impl Default for ServeConfig {
    /// Speed 1, no file read for callers, outputs where the first scenario
    /// says, nodes in this process.
    fn default() -> Self {
        Self {
            speed: 1.0,
            scenarios: None,
            out: None,
            nodes: NodeLaunch::InProcess,
        }
    }
}

/// Where the edge is in its lifecycle.
enum Phase {
    /// Running: devices may register and send.
    Running(RealEdge),
    /// Stopped: the summary of the last run, if there was one.
    Stopped(Option<Box<Summary>>),
}

struct Shared {
    config: ServeConfig,
    /// The loaded scenario (what Start runs).
    scenario: Mutex<Scenario>,
    phase: RwLock<Phase>,
    /// Counts the stops: event streams end when it moves on from the value
    /// they started with (the edge's broadcast may outlive the stop).
    stops: tokio::sync::watch::Sender<u64>,
}

/// The service; cheap to clone (clones share the edge).
#[derive(Clone)]
pub struct ControlService {
    shared: Arc<Shared>,
}

impl ControlService {
    /// Starts `scenario` on the wall clock and serves it.
    pub async fn start(scenario: Scenario, mut config: ServeConfig) -> Result<Self, Status> {
        // Fixed now: a scenario a caller loads later cannot move it.
        config.out.get_or_insert_with(|| scenario.output.clone());
        let edge = start_edge(scenario.clone(), &config, config.speed).await?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                scenario: Mutex::new(scenario),
                phase: RwLock::new(Phase::Running(edge)),
                stops: tokio::sync::watch::Sender::new(0),
            }),
        })
    }

    /// Stops the edge if it runs (outputs written) and returns the summary
    /// of the last run, if any.
    pub async fn shutdown(&self) -> Result<Option<Summary>, Status> {
        let mut phase = self.shared.phase.write().await;
        if let Phase::Running(edge) = &*phase {
            self.shared.stops.send_modify(|n| *n += 1);
            let stopped = edge.clone().shutdown().await;
            *phase = Phase::Stopped(stopped.as_ref().ok().cloned().map(Box::new));
            return Ok(Some(stopped?));
        }
        match &*phase {
            Phase::Stopped(summary) => Ok(summary.as_deref().cloned()),
            Phase::Running(_) => Ok(None),
        }
    }

    /// The running edge, if the edge runs: for a program that embeds the
    /// service and drives the edge directly too (fault injection in tests,
    /// [`RealEdge::kill_node`]).
    pub async fn running_edge(&self) -> Option<RealEdge> {
        match &*self.shared.phase.read().await {
            Phase::Running(edge) => Some(edge.clone()),
            Phase::Stopped(_) => None,
        }
    }

    /// The running edge, or FAILED_PRECONDITION.
    async fn edge(&self) -> Result<RealEdge, Status> {
        match &*self.shared.phase.read().await {
            Phase::Running(edge) => Ok(edge.clone()),
            Phase::Stopped(_) => Err(Status::failed_precondition(
                "the edge is stopped; call Start to run the loaded scenario",
            )),
        }
    }

    fn scenario(&self) -> std::sync::MutexGuard<'_, Scenario> {
        self.shared
            .scenario
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn summary_on_wire(&self, summary: &Summary) -> v1::Summary {
        let scenario = self.scenario();
        wire::summary(
            summary,
            &scenario.name,
            wire::coverage_area(&scenario.world),
        )
    }
}

async fn start_edge(
    scenario: Scenario,
    config: &ServeConfig,
    speed: f64,
) -> Result<RealEdge, Status> {
    let options = RealOptions {
        speed,
        nodes: config.nodes.clone(),
        scenario_devices: false,
        out: config.out.clone(),
    };
    Ok(RealEdge::start(scenario, options).await?)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EmulatorControl for ControlService {
    async fn load_scenario(
        &self,
        request: Request<v1::LoadScenarioRequest>,
    ) -> Result<Response<v1::LoadScenarioResponse>, Status> {
        let request = request.into_inner();
        let mut phase = self.shared.phase.write().await;
        if let Phase::Running(_) = &*phase {
            return Err(Status::failed_precondition(
                "the edge is running; call Stop before loading another scenario",
            ));
        }
        let name = if request.name.is_empty() {
            "<LoadScenario>".to_owned()
        } else {
            request.name
        };
        let loaded = {
            let source = SandboxSource::new(self.shared.config.scenarios.as_ref());
            scenario::resolve::load(Path::new(&name), &request.scenario_toml, &source).map_err(
                |e| {
                    let full = e.to_string();
                    eprintln!("mcc-emu serve: LoadScenario refused: {full}");
                    Status::invalid_argument(sandbox::redact(&full, source.read_any()))
                },
            )?
        };
        let world = &loaded.world;
        let response = v1::LoadScenarioResponse {
            cloudlets: count(world.cloudlets.len()),
            devices: count(world.devices.len()),
            access_points: count(world.access_points.len()),
        };
        *self.scenario() = loaded;
        // The last run's figures belong to the scenario just replaced.
        *phase = Phase::Stopped(None);
        drop(phase);
        Ok(Response::new(response))
    }

    async fn start(
        &self,
        request: Request<v1::StartRequest>,
    ) -> Result<Response<v1::StartResponse>, Status> {
        let request = request.into_inner();
        let technique = input::technique(request.technique)?;
        let mut scenario = self.scenario().clone();
        let speed = input::speed(
            request.speed,
            self.shared.config.speed,
            scenario.settings.mobility_step_ns,
        )?;
        if let Some(technique) = technique {
            scenario.settings.migration.config.technique = technique;
        }
        if !request.policy.is_empty() {
            crate::placement::build(&request.policy, &scenario.policy_configs)
                .map_err(|e| Status::invalid_argument(format!("policy: {e}")))?;
            scenario.policy = request.policy;
        }
        let mut phase = self.shared.phase.write().await;
        if let Phase::Running(_) = &*phase {
            return Err(Status::failed_precondition(
                "the edge is already running; call Stop first",
            ));
        }
        let edge = start_edge(scenario, &self.shared.config, speed).await?;
        *phase = Phase::Running(edge);
        let started_unix_time_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(Response::new(v1::StartResponse {
            started_unix_time_ns,
        }))
    }

    async fn stop(
        &self,
        _request: Request<v1::StopRequest>,
    ) -> Result<Response<v1::StopResponse>, Status> {
        let mut phase = self.shared.phase.write().await;
        let Phase::Running(edge) = &*phase else {
            return Err(Status::failed_precondition("the edge is already stopped"));
        };
        // Stopped even if the stop went wrong: that edge is gone either way.
        self.shared.stops.send_modify(|n| *n += 1);
        let stopped = edge.clone().shutdown().await;
        *phase = Phase::Stopped(stopped.as_ref().ok().cloned().map(Box::new));
        drop(phase);
        let summary = stopped?;
        Ok(Response::new(v1::StopResponse {
            summary: Some(self.summary_on_wire(&summary)),
        }))
    }

    async fn register_device(
        &self,
        request: Request<v1::RegisterDeviceRequest>,
    ) -> Result<Response<v1::RegisterDeviceResponse>, Status> {
        let request = request.into_inner();
        let id = input::device_id(&request.device_id)?;
        let movement = match &request.movement {
            Some(register_device_request::Movement::Position(point)) => {
                DeviceMovement::Pushed(input::position("position", Some(point))?)
            }
            Some(register_device_request::Movement::TracePath(name)) => {
                DeviceMovement::Trace(self.read_trace(name)?)
            }
            None => {
                return Err(Status::invalid_argument(
                    "movement is missing: give trace_path or position",
                ));
            }
        };
        let edge = self.edge().await?;
        let registered = edge.register_device(id, movement).await?;
        Ok(Response::new(v1::RegisterDeviceResponse {
            vm_id: registered.vm_id,
            host_id: registered.host_id,
            access_point_id: registered.access_point_id.unwrap_or_default(),
        }))
    }

    async fn unregister_device(
        &self,
        request: Request<v1::UnregisterDeviceRequest>,
    ) -> Result<Response<v1::UnregisterDeviceResponse>, Status> {
        let request = request.into_inner();
        let id = input::device_id(&request.device_id)?;
        let edge = self.edge().await?;
        let gone = edge.unregister_device(id).await?;
        if let Some(error) = &gone.node_error {
            eprintln!(
                "mcc-emu serve: device {id:?} left; its VM {} could not be taken off: {error}",
                gone.vm_id
            );
        }
        Ok(Response::new(v1::UnregisterDeviceResponse {
            vm_id: gone.vm_id,
            host_id: gone.host_id,
        }))
    }

    async fn report_position(
        &self,
        request: Request<v1::ReportPositionRequest>,
    ) -> Result<Response<v1::ReportPositionResponse>, Status> {
        let request = request.into_inner();
        let id = input::device_id(&request.device_id)?;
        let position = input::position("position", request.position.as_ref())?;
        let edge = self.edge().await?;
        let update = edge.report_position(id, position)?;
        Ok(Response::new(v1::ReportPositionResponse {
            access_point_id: update.access_point_id.unwrap_or_default(),
            handed_over: update.handed_over,
        }))
    }

    async fn send_request(
        &self,
        request: Request<v1::DeviceRequest>,
    ) -> Result<Response<v1::DeviceResponse>, Status> {
        let request = request.into_inner();
        input::device_id(&request.device_id)?;
        input::request_limits(
            request.payload.len(),
            request.response_bytes,
            request.cpu_cost_us,
        )?;
        let edge = self.edge().await?;
        // Over the in-flight limits: refused now, before a task is spawned.
        let admitted = edge.admit_request(&request.device_id)?;
        let request_id = request.request_id;
        let edge_request = EdgeRequest {
            payload: request.payload,
            cpu_cost_us: request.cpu_cost_us,
            response_bytes: request.response_bytes,
        };
        // On its own task: a caller that goes away drops this handler, not
        // the request, which runs to its end and is recorded as it ended.
        let running = tokio::spawn(admitted.send(edge_request));
        let answer = running
            .await
            .map_err(|e| Status::internal(format!("the request's task failed: {e}")))??;
        Ok(Response::new(v1::DeviceResponse {
            request_id,
            host_id: answer.host_id,
            payload: answer.payload,
            outcome: wire::outcome(answer.outcome) as i32,
            delay: Some(wire::delay(&answer.delay)),
        }))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        _request: Request<v1::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let edge = self.edge().await?;
        let context = events::EventContext {
            policy: edge.scenario().policy.clone(),
            technique: input::technique_code(edge.scenario().settings.migration.config.technique),
        };
        let mut stops = self.shared.stops.subscribe();
        let started = *stops.borrow_and_update();
        let stopped = Box::pin(async move {
            let _ = stops.wait_for(|n| *n != started).await;
        });
        Ok(Response::new(Box::pin(events::stream(
            edge.subscribe(),
            context,
            stopped,
        ))))
    }

    async fn get_summary(
        &self,
        _request: Request<v1::GetSummaryRequest>,
    ) -> Result<Response<v1::Summary>, Status> {
        let summary = match &*self.shared.phase.read().await {
            Phase::Running(edge) => Some(edge.summary()),
            Phase::Stopped(summary) => summary.as_deref().cloned(),
        };
        Ok(Response::new(match summary {
            Some(summary) => self.summary_on_wire(&summary),
            // A stop that went wrong left no figures: the scenario only.
            None => {
                let scenario = self.scenario();
                v1::Summary {
                    scenario: scenario.name.clone(),
                    area: wire::coverage_area(&scenario.world),
                    ..Default::default()
                }
            }
        }))
    }
}

impl ControlService {
    /// The first trace of the file `name` (inside the scenarios folder).
    /// A file that does not parse is refused naming the line; the reason,
    /// which may quote the file, goes to stderr only.
    fn read_trace(&self, name: &str) -> Result<mcc_mobile_client::Trace, Status> {
        use mcc_mobile_client::readers::{TraceFormat, csv, gpx, plt};
        if name.is_empty() {
            return Err(Status::invalid_argument("trace_path must not be empty"));
        }
        let sandbox = self.shared.config.scenarios.as_ref().ok_or_else(|| {
            Status::invalid_argument(format!("trace_path {name:?}: {}", sandbox::NO_FILES))
        })?;
        let text = sandbox
            .read(name)
            .map_err(|e| Status::invalid_argument(format!("trace_path {e}")))?;
        let path = Path::new(name);
        let format = TraceFormat::from_path(path).ok_or_else(|| {
            Status::invalid_argument(format!(
                "trace_path {name:?}: unknown trace file type (use .gpx, .plt or .csv)"
            ))
        })?;
        let options = mcc_mobile_client::ReadOptions::default();
        let traces = match format {
            TraceFormat::Gpx => gpx::parse_gpx(path, &text, &options),
            TraceFormat::Plt => plt::parse_plt(path, &text, &options),
            TraceFormat::Csv => csv::parse_csv(path, &text, &options),
        }
        .map_err(|e| {
            eprintln!("mcc-emu serve: RegisterDevice trace_path refused: {e}");
            let line = e.line.map(|l| format!(" line {l}")).unwrap_or_default();
            Status::invalid_argument(format!(
                "trace_path {name:?}{line}: not a usable trace (the reason is in serve's log; \
                 file contents are never sent to callers)"
            ))
        })?;
        traces
            .into_iter()
            .next()
            .ok_or_else(|| Status::invalid_argument(format!("trace_path {name:?}: holds no trace")))
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
