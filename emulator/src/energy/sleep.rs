//! Sleeping empty cloudlets: a small state machine the engine asks (off
//! unless `[energy] sleep_empty_cloudlets = true`; `docs/energy.md`).
//!
//! A cloudlet that hosts no VM (and has none on its way in) falls asleep
//! once it has been empty for `sleep_after`; asleep it draws the sleep
//! power instead of its power curve. A VM headed for a sleeping cloudlet
//! wakes it: the wake-up takes `wake_delay`, at the wake power, and the
//! migration starts only when it is over. The machine keeps no clock: the
//! engine tells it when VMs arrive and leave, it answers when the target is
//! ready, and at the end it hands the energy meter the spans each cloudlet
//! spent off its curve ([`SleepLog`]).

/// The sleep model's parameters (sourced in `docs/energy.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SleepConfig {
    /// How long a cloudlet stays empty before it falls asleep, ns.
    pub after_ns: u64,
    /// Power of one reference server asleep, W.
    pub sleep_w: f64,
    /// How long a wake-up takes, ns.
    pub wake_ns: u64,
    /// Power of one reference server while it wakes, W.
    pub wake_w: f64,
}

/// A span of time in which a cloudlet is off its power curve, drawing
/// `watts` per reference server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffCurve {
    /// Start, ns since the run began.
    pub start_ns: u64,
    /// End (exclusive), ns.
    pub end_ns: u64,
    /// Power per reference server, W.
    pub watts: f64,
    /// A wake-up (else asleep).
    pub waking: bool,
}

/// What a run's cloudlets did: the spans each spent asleep or waking, in
/// time order and disjoint, and how many wake-ups there were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SleepLog {
    /// By cloudlet index.
    pub spans: Vec<Vec<OffCurve>>,
    /// Wake-ups over the run.
    pub wake_ups: u64,
}

/// One cloudlet's state.
#[derive(Debug, Clone, Copy)]
struct Cloudlet {
    /// VMs hosted or on their way in.
    vms: u32,
    /// Since when it has been empty (meaningful when `vms == 0`).
    empty_since_ns: u64,
    /// When its last wake-up ends (0: never woken).
    ready_ns: u64,
}

/// The sleep state of every cloudlet of a run.
#[derive(Debug, Clone)]
pub struct Sleepers {
    config: SleepConfig,
    cloudlets: Vec<Cloudlet>,
    log: SleepLog,
}

impl Sleepers {
    /// Every cloudlet at time 0, hosting `vms[c]` VMs (empty ones start
    /// their idle time then).
    pub fn new(config: SleepConfig, vms: &[u32]) -> Self {
        Self {
            config,
            cloudlets: vms
                .iter()
                .map(|&vms| Cloudlet {
                    vms,
                    empty_since_ns: 0,
                    ready_ns: 0,
                })
                .collect(),
            log: SleepLog {
                spans: vec![Vec::new(); vms.len()],
                wake_ups: 0,
            },
        }
    }

    /// A VM heads for `cloudlet` at `now_ns`: when the cloudlet can take it
    /// (`now_ns` unless it is asleep or still waking). Waking a sleeping
    /// cloudlet logs its sleep and its wake-up.
    pub fn arrive(&mut self, cloudlet: u32, now_ns: u64) -> u64 {
        let (after, wake) = (self.config.after_ns, self.config.wake_ns);
        let Some(c) = self.cloudlets.get_mut(cloudlet as usize) else {
            return now_ns;
        };
        let asleep_at = c.empty_since_ns.saturating_add(after);
        if c.vms == 0 && now_ns >= asleep_at {
            let spans = &mut self.log.spans[cloudlet as usize];
            if now_ns > asleep_at {
                spans.push(OffCurve {
                    start_ns: asleep_at,
                    end_ns: now_ns,
                    watts: self.config.sleep_w,
                    waking: false,
                });
            }
            c.ready_ns = now_ns.saturating_add(wake);
            if wake > 0 {
                spans.push(OffCurve {
                    start_ns: now_ns,
                    end_ns: c.ready_ns,
                    watts: self.config.wake_w,
                    waking: true,
                });
            }
            self.log.wake_ups += 1;
        }
        c.vms += 1;
        c.ready_ns.max(now_ns)
    }

    /// A VM has left `cloudlet` at `now_ns` (or will not arrive after all).
    pub fn leave(&mut self, cloudlet: u32, now_ns: u64) {
        if let Some(c) = self.cloudlets.get_mut(cloudlet as usize) {
            c.vms = c.vms.saturating_sub(1);
            if c.vms == 0 {
                c.empty_since_ns = now_ns.max(c.ready_ns);
            }
        }
    }

    /// The log of a run that ended at `end_ns`: cloudlets empty long
    /// enough sleep to the end.
    pub fn finish(mut self, end_ns: u64) -> SleepLog {
        for (c, spans) in self.cloudlets.iter().zip(&mut self.log.spans) {
            let asleep_at = c.empty_since_ns.saturating_add(self.config.after_ns);
            if c.vms == 0 && asleep_at < end_ns {
                spans.push(OffCurve {
                    start_ns: asleep_at,
                    end_ns,
                    watts: self.config.sleep_w,
                    waking: false,
                });
            }
        }
        self.log
    }
}

/// `summary.json`'s `cloudlet_sleep` (present only when cloudlets may
/// sleep): wake-ups, and the time all cloudlets together spent asleep and
/// waking within the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SleepSummary {
    /// Wake-ups over the run.
    pub wake_ups: u64,
    /// Cloudlet-seconds asleep.
    pub asleep_s: f64,
    /// Cloudlet-seconds waking.
    pub waking_s: f64,
}

impl SleepLog {
    /// The summary of this log over a run of `duration_ns` (spans past the
    /// end are cut there).
    pub fn summary(&self, duration_ns: u64) -> SleepSummary {
        let (mut asleep, mut waking) = (0u64, 0u64);
        for span in self.spans.iter().flatten() {
            let ns = span.end_ns.min(duration_ns).saturating_sub(span.start_ns);
            if span.waking {
                waking += ns;
            } else {
                asleep += ns;
            }
        }
        let round = |ns: u64| (ns as f64 / 1e6).round() / 1e3;
        SleepSummary {
            wake_ups: self.wake_ups,
            asleep_s: round(asleep),
            waking_s: round(waking),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn config() -> SleepConfig {
        SleepConfig {
            after_ns: 30 * S,
            sleep_w: 9.0,
            wake_ns: 10 * S,
            wake_w: 113.0,
        }
    }

    #[test]
    fn an_empty_cloudlet_sleeps_after_its_idle_time_and_a_vm_wakes_it() {
        // Cloudlet 0 hosts a VM, cloudlet 1 none.
        let mut s = Sleepers::new(config(), &[1, 0]);
        // Before its idle time is over, cloudlet 1 takes a VM at once.
        assert_eq!(s.arrive(1, 20 * S), 20 * S);
        s.leave(1, 25 * S);
        // Empty since 25 s, asleep from 55 s: at 100 s it needs 10 s.
        assert_eq!(s.arrive(1, 100 * S), 110 * S);
        // A second VM during the wake-up waits for the same end.
        assert_eq!(s.arrive(1, 105 * S), 110 * S);
        let log = s.finish(200 * S);
        assert_eq!(log.wake_ups, 1);
        assert_eq!(log.spans[0], vec![]);
        assert_eq!(
            log.spans[1],
            vec![
                OffCurve {
                    start_ns: 55 * S,
                    end_ns: 100 * S,
                    watts: 9.0,
                    waking: false,
                },
                OffCurve {
                    start_ns: 100 * S,
                    end_ns: 110 * S,
                    watts: 113.0,
                    waking: true,
                },
            ]
        );
        let summary = log.summary(200 * S);
        assert_eq!(summary.asleep_s, 45.0);
        assert_eq!(summary.waking_s, 10.0);
    }

    #[test]
    fn a_cloudlet_left_empty_sleeps_to_the_end_and_not_before_its_idle_time() {
        let mut s = Sleepers::new(config(), &[1, 1]);
        s.leave(0, 40 * S);
        s.leave(1, 190 * S);
        let log = s.finish(200 * S);
        // Cloudlet 0 asleep from 70 s; cloudlet 1 not yet at the end.
        assert_eq!(
            log.spans[0],
            vec![OffCurve {
                start_ns: 70 * S,
                end_ns: 200 * S,
                watts: 9.0,
                waking: false,
            }]
        );
        assert!(log.spans[1].is_empty());
        assert_eq!(log.wake_ups, 0);
    }
}
