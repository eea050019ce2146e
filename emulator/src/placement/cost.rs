//! The objective `ga` and `optimal` minimise, in one place, so the GA's
//! optimality gap compares like with like.
//!
//! An assignment gives a cloudlet to every VM the decision concerns (the
//! *genes*; the other VMs stay where they are). Its cost is in milliseconds
//! of request delay summed over the requests each device is expected to send
//! within the look-ahead horizon (R = request rate × horizon, at least one
//! second's worth):
//!
//! - **delay**: for every VM, its R (its own request rate × horizon) times
//!   the round trip of its requests over
//!   the backbone, blended between the device's access point now and at the
//!   end of the horizon (`ahead_weight` on the latter), plus, for every
//!   cloudlet, the R of each of its VMs times the queueing its requests meet:
//!   the current CPU backlog spread over the cores, and the M/M/1 wait
//!   `s·ρ/(1−ρ)` at utilisation ρ = Σ (VM request rate × its mean CPU time)
//!   / cores, s being the rate-weighted mean CPU time of the cloudlet's VMs
//!   (continued as a straight line past ρ = 0.9 so an overloaded cloudlet
//!   has a finite, steep cost); all times `delay_weight`. Per-VM figures
//!   enter as weights relative to a reference VM, so that a fleet of one
//!   profile weighs every VM exactly 1 and costs what a count would;
//! - **migration**: for every gene off its VM's current host, a fixed
//!   `migration_ms`, `migration_ms_per_mib` per MiB the move sends, and
//!   `downtime_weight` times the delay the expected downtime D adds to the
//!   requests that arrive during it (the VM's rate × D of them, waiting D/2
//!   on average);
//! - **capacity**: `capacity_penalty_ms` for every VM moved into a cloudlet
//!   beyond the memory it has free now (sources keep their memory until a
//!   migration ends, as in the engine).
//!
//! [`Objective::evaluate`] computes it from scratch; a [`Tally`] keeps the
//! per-cloudlet counts so [`Objective::apply_move`] updates it in O(1) when
//! one gene changes.

use std::cell::OnceCell;

use serde::Deserialize;

use super::{Move, PlacementView};

/// Utilisation past which the queueing wait grows linearly.
const RHO_KNEE: f64 = 0.9;

/// The weights of the objective. Defaults: see [`CostWeights::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostWeights {
    /// Weight of request delay (default 1).
    pub delay_weight: f64,
    /// Share of the horizon's end in the delay estimate, in [0, 1] (default 0.5).
    pub ahead_weight: f64,
    /// Cost of each MiB a migration sends, in ms (default 1: a 256 MiB VM, 256 ms).
    pub migration_ms_per_mib: f64,
    /// Weight of the delay a migration's downtime adds to requests (default 1).
    pub downtime_weight: f64,
    /// Fixed cost of each migration, in ms (default 10).
    pub migration_ms: f64,
    /// Cost of each VM moved into a cloudlet without room for it, in ms (default 1e9).
    pub capacity_penalty_ms: f64,
}

impl Default for CostWeights {
    fn default() -> Self {
        Self {
            delay_weight: 1.0,
            ahead_weight: 0.5,
            migration_ms_per_mib: 1.0,
            downtime_weight: 1.0,
            migration_ms: 10.0,
            capacity_penalty_ms: 1e9,
        }
    }
}

impl CostWeights {
    /// Checks every weight is a finite number ≥ 0 and `ahead_weight` ≤ 1;
    /// the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("delay_weight", self.delay_weight),
            ("ahead_weight", self.ahead_weight),
            ("migration_ms_per_mib", self.migration_ms_per_mib),
            ("downtime_weight", self.downtime_weight),
            ("migration_ms", self.migration_ms),
            ("capacity_penalty_ms", self.capacity_penalty_ms),
        ];
        for (field, value) in fields {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "weights.{field} must be a finite number >= 0, got {value}"
                ));
            }
        }
        if self.ahead_weight > 1.0 {
            return Err(format!(
                "weights.ahead_weight must be in [0, 1], got {}",
                self.ahead_weight
            ));
        }
        Ok(())
    }
}

/// The objective of one decision: the view, the weights and the VMs that may move.
///
/// Building it costs O(cloudlets + genes) plus one pass of additions over
/// the VMs (each VM's load and rate weight, summed per cloudlet): the VMs
/// that are not genes are counted from [`PlacementView::cloudlet_vms`], and
/// their delay (a constant no choice of the genes changes, and the costly
/// part, as it reads each device's access points) is summed only when
/// [`Objective::evaluate`] first needs it.
#[derive(Debug, Clone)]
pub struct Objective<'v> {
    view: &'v PlacementView<'v>,
    weights: CostWeights,
    /// VM of each gene.
    genes: Vec<u32>,
    /// VMs on each cloudlet that are not genes.
    fixed_counts: Vec<u32>,
    /// VMs each cloudlet has memory for now.
    room: Vec<u64>,
    /// Delay of the VMs that are not genes, summed on first use.
    fixed_ms: OnceCell<f64>,
    /// Per cloudlet: backlog spread over the cores, in ms.
    backlog_ms: Vec<f64>,
    /// Per cloudlet: utilisation the reference VM adds.
    rho_per_vm: Vec<f64>,
    /// Mean CPU time of the reference VM's requests, in ms.
    cpu_ms: f64,
    /// Requests the reference VM's device is expected to send within the horizon.
    requests: f64,
    /// The reference VM's request rate (Hz) and CPU load (rate × mean CPU
    /// ns): per-VM figures are weighed against these.
    rate0: f64,
    load0: f64,
    /// Per cloudlet: the load and rate weights of the VMs that are not genes.
    fixed_load: Vec<f64>,
    fixed_rate: Vec<f64>,
}

/// The per-cloudlet counts of an assignment and its cost, for O(1) updates.
#[derive(Debug, PartialEq)]
pub struct Tally {
    counts: Vec<u32>,
    incoming: Vec<u32>,
    /// Per cloudlet: sum of its VMs' load weights.
    load: Vec<f64>,
    /// Per cloudlet: sum of its VMs' rate weights.
    rate: Vec<f64>,
    /// The cost of the assignment less the delay of the VMs that are not
    /// genes (the same for every assignment, so comparisons of totals
    /// compare costs); kept current by [`Objective::apply_move`].
    /// [`Objective::evaluate`] adds that constant back.
    pub total: f64,
}

impl Clone for Tally {
    fn clone(&self) -> Self {
        Self {
            counts: self.counts.clone(),
            incoming: self.incoming.clone(),
            load: self.load.clone(),
            rate: self.rate.clone(),
            total: self.total,
        }
    }

    /// Reuses `self`'s buffers (the GA copies tallies every generation).
    fn clone_from(&mut self, source: &Self) {
        self.counts.clone_from(&source.counts);
        self.incoming.clone_from(&source.incoming);
        self.load.clone_from(&source.load);
        self.rate.clone_from(&source.rate);
        self.total = source.total;
    }
}

/// Gene lists at most this long are checked for repeats by a scan, longer
/// ones with a table over the VMs.
const SCAN_REPEATS_UP_TO: usize = 16;

/// The number of assignments of `genes` genes to `cloudlets` cloudlets
/// (cloudlets^genes), if it is at most `limit`.
pub fn assignments_within(genes: usize, cloudlets: usize, limit: u64) -> Option<u64> {
    let mut n: u64 = 1;
    for _ in 0..genes {
        n = n.checked_mul(cloudlets as u64)?;
        if n > limit {
            return None;
        }
    }
    Some(n)
}

impl<'v> Objective<'v> {
    /// The objective of moving the VMs `genes` (each at most once; unknown
    /// VMs are dropped) in `view`, weighed by `weights`.
    pub fn new(view: &'v PlacementView<'v>, weights: &CostWeights, genes: &[u32]) -> Self {
        let cloudlets = view.cloudlets();
        let placed = |vm: u32| {
            view.vm_hosts
                .get(vm as usize)
                .is_some_and(|&host| (host as usize) < cloudlets)
        };
        let mut kept: Vec<u32> = Vec::with_capacity(genes.len());
        if genes.len() <= SCAN_REPEATS_UP_TO {
            for &vm in genes {
                if placed(vm) && !kept.contains(&vm) {
                    kept.push(vm);
                }
            }
        } else {
            let mut is_gene = vec![false; view.vms()];
            for &vm in genes {
                if placed(vm) && !std::mem::replace(&mut is_gene[vm as usize], true) {
                    kept.push(vm);
                }
            }
        }
        let genes = kept;
        // The VMs on each cloudlet, less the genes.
        let mut fixed_counts = if view.cloudlet_vms.len() == cloudlets {
            debug_assert_eq!(
                view.cloudlet_vms,
                &count_vms(view)[..],
                "cloudlet_vms must count the VMs of vm_hosts"
            );
            view.cloudlet_vms.to_vec()
        } else {
            count_vms(view)
        };
        for &vm in &genes {
            let host = view.vm_hosts[vm as usize] as usize;
            fixed_counts[host] = fixed_counts[host].saturating_sub(1);
        }
        // The reference VM: the first with any CPU load (else VM 0).
        let reference = (0..view.vms() as u32)
            .find(|&vm| {
                let (rate, cpu_ns) = figures(view, vm);
                rate * cpu_ns > 0.0
            })
            .unwrap_or(0);
        let (rate0, cpu0_ns) = figures(view, reference);
        let cpu_s = cpu0_ns / 1e9;
        let rho_per_vm: Vec<f64> = view
            .cloudlet_cpu_cores
            .iter()
            .map(|&k| rate0 * cpu_s / f64::from(k.max(1)))
            .collect();
        let backlog_ms = view
            .cloudlet_backlog_ns
            .iter()
            .zip(view.cloudlet_cpu_cores)
            .map(|(&b, &k)| b as f64 / 1e6 / f64::from(k.max(1)))
            .collect();
        let mut objective = Self {
            view,
            weights: weights.clone(),
            genes,
            fixed_counts,
            room: (0..cloudlets as u32).map(|c| view.room_vms(c)).collect(),
            fixed_ms: OnceCell::new(),
            backlog_ms,
            rho_per_vm,
            cpu_ms: cpu0_ns / 1e6,
            requests: rate0 * (view.horizon_ns as f64 / 1e9).max(1.0),
            rate0,
            load0: rate0 * cpu0_ns,
            fixed_load: vec![0.0; cloudlets],
            fixed_rate: vec![0.0; cloudlets],
        };
        // One pass of additions over the VMs that are not genes.
        let mut fixed_load = vec![0.0; cloudlets];
        let mut fixed_rate = vec![0.0; cloudlets];
        for (vm, host) in objective.fixed_vms() {
            fixed_load[host as usize] += objective.load_weight(vm);
            fixed_rate[host as usize] += objective.rate_weight(vm);
        }
        objective.fixed_load = fixed_load;
        objective.fixed_rate = fixed_rate;
        objective
    }

    /// The VMs that are not genes and have a host, with that host, in VM
    /// order.
    fn fixed_vms(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let many = self.genes.len() > SCAN_REPEATS_UP_TO;
        let mut is_gene = vec![false; if many { self.view.vms() } else { 0 }];
        if many {
            for &vm in &self.genes {
                is_gene[vm as usize] = true;
            }
        }
        let cloudlets = self.cloudlets();
        (0u32..)
            .zip(self.view.vm_hosts.iter().copied())
            .filter(move |&(vm, host)| {
                let gene = if many {
                    is_gene[vm as usize]
                } else {
                    self.genes.contains(&vm)
                };
                !gene && (host as usize) < cloudlets
            })
    }

    /// VM `vm`'s CPU load (rate × mean CPU time) over the reference VM's.
    fn load_weight(&self, vm: u32) -> f64 {
        let (rate, cpu_ns) = figures(self.view, vm);
        if self.load0 > 0.0 {
            rate * cpu_ns / self.load0
        } else {
            0.0
        }
    }

    /// VM `vm`'s request rate over the reference VM's.
    fn rate_weight(&self, vm: u32) -> f64 {
        let (rate, _) = figures(self.view, vm);
        if self.rate0 > 0.0 {
            rate / self.rate0
        } else {
            0.0
        }
    }

    /// The delay of the VMs that are not genes: O(VMs), computed once.
    fn fixed_ms(&self) -> f64 {
        *self.fixed_ms.get_or_init(|| {
            self.fixed_vms()
                .map(|(vm, host)| self.delay_ms(vm, host))
                .sum()
        })
    }

    /// The VM of each gene.
    pub fn genes(&self) -> &[u32] {
        &self.genes
    }

    /// Number of cloudlets a gene can take.
    pub fn cloudlets(&self) -> usize {
        self.fixed_counts.len()
    }

    /// The view decided on.
    pub fn view(&self) -> &PlacementView<'v> {
        self.view
    }

    /// Today's placement of the genes.
    pub fn current(&self) -> Vec<u32> {
        self.genes
            .iter()
            .map(|&vm| self.view.vm_hosts[vm as usize])
            .collect()
    }

    fn host(&self, gene: usize) -> u32 {
        self.view.vm_hosts[self.genes[gene] as usize]
    }

    /// Expected round trip over the backbone of VM `vm`'s requests to
    /// `cloudlet`, weighted, in ms (0 for a device out of coverage now and
    /// at the horizon).
    fn delay_ms(&self, vm: u32, cloudlet: u32) -> f64 {
        let i = vm as usize;
        let latency = |ap: Option<u32>| ap.map(|ap| self.view.ap_latency(ap, cloudlet) as f64);
        let now = latency(self.view.device_ap.get(i).copied().flatten());
        let ahead = latency(self.view.device_ap_ahead.get(i).copied().flatten());
        let one_way_ns = match (now, ahead) {
            (Some(n), Some(a)) => {
                (1.0 - self.weights.ahead_weight) * n + self.weights.ahead_weight * a
            }
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 0.0,
        };
        self.weights.delay_weight * self.requests * self.rate_weight(vm) * 2.0 * one_way_ns / 1e6
    }

    /// Cost of gene `gene` on `cloudlet`: its delay, plus the migration if
    /// that is not its VM's current host.
    pub fn gene_cost(&self, gene: usize, cloudlet: u32) -> f64 {
        let vm = self.genes[gene];
        let host = self.host(gene);
        let mut cost = self.delay_ms(vm, cloudlet);
        if cloudlet != host {
            let m = self.view.migration(host, cloudlet);
            let downtime_s = m.downtime_ns as f64 / 1e9;
            let stalled = figures(self.view, vm).0 * downtime_s;
            cost += self.weights.migration_ms
                + self.weights.migration_ms_per_mib * m.bytes as f64 / f64::from(1u32 << 20)
                + self.weights.downtime_weight * stalled * downtime_s * 1e3 / 2.0;
        }
        cost
    }

    /// Cost of `cloudlet` hosting VMs whose load and rate weights sum to
    /// `load` and `rate`, of which `incoming` arrive now: the queueing of
    /// their requests and the capacity penalty.
    pub fn cloudlet_cost(&self, cloudlet: u32, load: f64, rate: f64, incoming: u32) -> f64 {
        let c = cloudlet as usize;
        let rho = load * self.rho_per_vm[c];
        // Rate-weighted mean CPU time of the cloudlet's requests (the
        // reference VM's when all share one profile: load / rate = 1).
        let cpu_ms = if rate > 0.0 {
            self.cpu_ms * (load / rate)
        } else {
            self.cpu_ms
        };
        let queue_ms = if rho < RHO_KNEE {
            cpu_ms * rho / (1.0 - rho)
        } else {
            let at_knee = cpu_ms * RHO_KNEE / (1.0 - RHO_KNEE);
            let slope = cpu_ms / ((1.0 - RHO_KNEE) * (1.0 - RHO_KNEE));
            at_knee + slope * (rho - RHO_KNEE)
        };
        let wait_ms = self.backlog_ms[c] + queue_ms;
        let over = u64::from(incoming).saturating_sub(self.room[c]);
        self.weights.delay_weight * self.requests * rate * wait_ms
            + self.weights.capacity_penalty_ms * over as f64
    }

    /// The counts and cost of `assignment` (one cloudlet per gene, each
    /// below [`Objective::cloudlets`]), from scratch; the cost less the
    /// constant delay of the VMs that are not genes (see [`Tally::total`]).
    pub fn tally(&self, assignment: &[u32]) -> Tally {
        let mut counts = self.fixed_counts.clone();
        let mut incoming = vec![0u32; counts.len()];
        let mut load = self.fixed_load.clone();
        let mut rate = self.fixed_rate.clone();
        let mut total = 0.0;
        for (gene, &c) in assignment.iter().enumerate() {
            counts[c as usize] += 1;
            let vm = self.genes[gene];
            load[c as usize] += self.load_weight(vm);
            rate[c as usize] += self.rate_weight(vm);
            if c != self.host(gene) {
                incoming[c as usize] += 1;
            }
            total += self.gene_cost(gene, c);
        }
        for c in 0..counts.len() {
            total += self.cloudlet_cost(c as u32, load[c], rate[c], incoming[c]);
        }
        Tally {
            counts,
            incoming,
            load,
            rate,
            total,
        }
    }

    /// The cost of `assignment`, from scratch (the first call also sums the
    /// delay of the VMs that are not genes: O(VMs)).
    pub fn evaluate(&self, assignment: &[u32]) -> f64 {
        self.tally(assignment).total + self.fixed_ms()
    }

    /// How the cost changes if gene `gene` goes from cloudlet `from` (where
    /// `tally` has it) to `to`.
    pub fn move_delta(&self, tally: &Tally, gene: usize, from: u32, to: u32) -> f64 {
        if from == to {
            return 0.0;
        }
        let host = self.host(gene);
        let (a, b) = (from as usize, to as usize);
        let leaving = u32::from(from != host);
        let arriving = u32::from(to != host);
        let vm = self.genes[gene];
        let (l, r) = (self.load_weight(vm), self.rate_weight(vm));
        let (load, rate) = (&tally.load, &tally.rate);
        self.gene_cost(gene, to) - self.gene_cost(gene, from)
            + self.cloudlet_cost(from, load[a] - l, rate[a] - r, tally.incoming[a] - leaving)
            - self.cloudlet_cost(from, load[a], rate[a], tally.incoming[a])
            + self.cloudlet_cost(to, load[b] + l, rate[b] + r, tally.incoming[b] + arriving)
            - self.cloudlet_cost(to, load[b], rate[b], tally.incoming[b])
    }

    /// Moves gene `gene` from `from` (where `tally` has it) to `to` in
    /// `tally`, updating its cost.
    pub fn apply_move(&self, tally: &mut Tally, gene: usize, from: u32, to: u32) {
        if from == to {
            return;
        }
        tally.total += self.move_delta(tally, gene, from, to);
        let host = self.host(gene);
        tally.counts[from as usize] -= 1;
        tally.counts[to as usize] += 1;
        let vm = self.genes[gene];
        let (l, r) = (self.load_weight(vm), self.rate_weight(vm));
        tally.load[from as usize] -= l;
        tally.load[to as usize] += l;
        tally.rate[from as usize] -= r;
        tally.rate[to as usize] += r;
        if from != host {
            tally.incoming[from as usize] -= 1;
        }
        if to != host {
            tally.incoming[to as usize] += 1;
        }
    }

    /// The lowest-cost assignment of every one of the cloudlets^genes, and
    /// its [`Tally::total`]: an odometer over the genes whose every step
    /// changes one gene (or carries), the tally following move by move.
    /// `incumbent` is kept among equals; an assignment replaces it only if
    /// strictly cheaper, and then the first such in lexicographic order.
    /// The caller bounds the work (see [`assignments_within`]).
    pub fn exhaustive(&self, incumbent: &[u32]) -> (Vec<u32>, f64) {
        let genes = self.genes.len();
        let cloudlets = self.cloudlets();
        let incumbent_total = self.tally(incumbent).total;
        if genes == 0 || cloudlets == 0 {
            return (incumbent.to_vec(), incumbent_total);
        }
        let mut assignment = vec![0u32; genes];
        let mut tally = self.tally(&assignment);
        let mut best: Option<(Vec<u32>, f64)> =
            (tally.total < incumbent_total).then(|| (assignment.clone(), tally.total));
        let last = cloudlets as u32 - 1;
        loop {
            let mut gene = 0;
            while gene < genes && assignment[gene] == last {
                self.apply_move(&mut tally, gene, last, 0);
                assignment[gene] = 0;
                gene += 1;
            }
            if gene == genes {
                break;
            }
            let from = assignment[gene];
            self.apply_move(&mut tally, gene, from, from + 1);
            assignment[gene] = from + 1;
            let to_beat = best.as_ref().map_or(incumbent_total, |b| b.1);
            if tally.total < to_beat {
                match &mut best {
                    Some((genes, total)) => {
                        genes.copy_from_slice(&assignment);
                        *total = tally.total;
                    }
                    None => best = Some((assignment.clone(), tally.total)),
                }
            }
        }
        best.unwrap_or_else(|| (incumbent.to_vec(), incumbent_total))
    }

    /// Each gene in turn to the cloudlet that lowers the cost most given the
    /// others (one pass from today's placement).
    pub fn greedy(&self) -> Vec<u32> {
        let mut assignment = self.current();
        let mut tally = self.tally(&assignment);
        for (gene, slot) in assignment.iter_mut().enumerate() {
            let from = *slot;
            let mut best = (0.0, from);
            for to in 0..self.cloudlets() as u32 {
                let delta = self.move_delta(&tally, gene, from, to);
                if delta < best.0 {
                    best = (delta, to);
                }
            }
            if best.1 != from {
                self.apply_move(&mut tally, gene, from, best.1);
                *slot = best.1;
            }
        }
        assignment
    }

    /// The migrations that turn today's placement into `assignment`.
    pub fn moves(&self, assignment: &[u32]) -> Vec<Move> {
        assignment
            .iter()
            .enumerate()
            .filter(|&(gene, &c)| c != self.host(gene))
            .map(|(gene, &to)| Move {
                vm: self.genes[gene],
                to,
            })
            .collect()
    }
}

/// VM `vm`'s request rate (Hz) and mean CPU time per request (ns), 0 for an
/// unknown VM.
fn figures(view: &PlacementView<'_>, vm: u32) -> (f64, f64) {
    let i = vm as usize;
    (
        view.request_rate_hz.get(i).copied().unwrap_or(0.0),
        view.request_cpu_ns.get(i).copied().unwrap_or(0) as f64,
    )
}

/// The VMs on each cloudlet, counted from `view.vm_hosts`.
fn count_vms(view: &PlacementView<'_>) -> Vec<u32> {
    let mut counts = vec![0u32; view.cloudlets()];
    for &host in view.vm_hosts {
        if let Some(n) = counts.get_mut(host as usize) {
            *n += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::instance::Instance;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn incremental_updates_agree_with_a_fresh_evaluation() {
        let instance = Instance::random(30, 5, 4);
        let view = instance.view();
        let all: Vec<u32> = (0..30).collect();
        let objective = Objective::new(&view, &CostWeights::default(), &all);
        let mut assignment = objective.current();
        let mut tally = objective.tally(&assignment);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let gene = rng.random_range(0..30);
            let to = rng.random_range(0..5u32);
            objective.apply_move(&mut tally, gene, assignment[gene], to);
            assignment[gene] = to;
        }
        let fresh = objective.evaluate(&assignment);
        assert!(
            (tally.total - fresh).abs() < 1e-6 * fresh,
            "{} vs {fresh}",
            tally.total
        );
    }

    #[test]
    fn per_vm_profiles_weigh_the_cost_and_stay_incremental() {
        let mut instance = Instance::random(20, 4, 9);
        instance.cloudlet_backlog_ns = vec![0; 4];
        // Half the VMs send 5× the requests at 3× the CPU time.
        for vm in 0..10 {
            instance.request_rate_hz[vm] = 100.0;
            instance.request_cpu_ns[vm] = 30_000_000;
        }
        let view = instance.view();
        let all: Vec<u32> = (0..20).collect();
        let objective = Objective::new(&view, &CostWeights::default(), &all);
        let mut assignment = objective.current();
        let mut tally = objective.tally(&assignment);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..300 {
            let gene = rng.random_range(0..20);
            let to = rng.random_range(0..4u32);
            objective.apply_move(&mut tally, gene, assignment[gene], to);
            assignment[gene] = to;
        }
        let fresh = objective.evaluate(&assignment);
        assert!((tally.total - fresh).abs() < 1e-6 * fresh);
        // All on cloudlet 0: the heavy VMs load it far more than light ones.
        let light_only = Objective::new(&view, &CostWeights::default(), &all[10..]);
        let heavy_only = Objective::new(&view, &CostWeights::default(), &all[..10]);
        let c0 = |o: &Objective| {
            o.cloudlet_cost(
                0,
                10.0 * o.load_weight(o.genes[0]),
                10.0 * o.rate_weight(o.genes[0]),
                0,
            )
        };
        assert!(c0(&heavy_only) > 10.0 * c0(&light_only));
    }

    #[test]
    fn a_few_genes_cost_the_same_as_every_vm_with_the_others_at_home() {
        // The VMs that are not genes are counted from `cloudlet_vms` and their
        // delay added lazily: the costs must match an objective over every VM.
        let instance = Instance::random(40, 6, 12);
        let view = instance.view();
        let all: Vec<u32> = (0..40).collect();
        let everyone = Objective::new(&view, &CostWeights::default(), &all);
        for genes in [vec![7u32], vec![3, 30, 3, 12], (0..20).rev().collect()] {
            let some = Objective::new(&view, &CostWeights::default(), &genes);
            assert!(some.genes().len() <= genes.len(), "repeats are dropped");
            let mut rng = ChaCha8Rng::seed_from_u64(genes.len() as u64);
            for _ in 0..20 {
                let mut full = everyone.current();
                let part: Vec<u32> = some
                    .genes()
                    .iter()
                    .map(|&vm| {
                        let c = rng.random_range(0..6u32);
                        full[vm as usize] = c;
                        c
                    })
                    .collect();
                let (a, b) = (some.evaluate(&part), everyone.evaluate(&full));
                assert!((a - b).abs() <= 1e-9 * b, "{genes:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn staying_costs_no_migration_and_moving_does() {
        let mut instance = Instance::random(1, 3, 2);
        instance.device_ap = vec![Some(1)];
        instance.device_ap_ahead = vec![Some(1)];
        instance.vm_hosts = vec![1];
        instance.cloudlet_backlog_ns = vec![0; 3];
        instance.refresh_counts();
        let view = instance.view();
        let objective = Objective::new(&view, &CostWeights::default(), &[0]);
        // At home: the round trip to the co-located cloudlet, 2 × 0.2 ms, and
        // the queueing of one VM, for each of 20 requests/s × 30 s.
        let rho = 20.0 * 0.010 / f64::from(instance.cloudlet_cpu_cores[1]);
        let expected = 600.0 * (0.4 + 10.0 * rho / (1.0 - rho));
        assert!((objective.evaluate(&[1]) - expected).abs() < 1e-9);
        assert!(objective.gene_cost(0, 0) > objective.gene_cost(0, 1) + 1.0);
        assert!(objective.moves(&[1]).is_empty());
        assert_eq!(objective.moves(&[2]), vec![Move { vm: 0, to: 2 }]);
    }

    #[test]
    fn moving_into_a_full_cloudlet_is_penalised() {
        let mut instance = Instance::random(2, 2, 5);
        instance.vm_hosts = vec![0, 0];
        instance.refresh_counts();
        instance.cloudlet_memory_used_bytes[1] = instance.cloudlet_memory_bytes[1];
        let view = instance.view();
        let objective = Objective::new(&view, &CostWeights::default(), &[0, 1]);
        assert!(objective.evaluate(&[1, 0]) > 1e9);
        assert!(objective.evaluate(&[0, 0]) < 1e8);
    }

    #[test]
    fn weights_out_of_range_are_named() {
        let w = CostWeights {
            downtime_weight: -1.0,
            ..CostWeights::default()
        };
        assert!(
            w.validate()
                .unwrap_err()
                .contains("weights.downtime_weight")
        );
        let w = CostWeights {
            ahead_weight: 1.5,
            ..CostWeights::default()
        };
        assert!(w.validate().unwrap_err().contains("ahead_weight"));
    }
}
