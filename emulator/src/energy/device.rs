//! The device's radio: an LTE state machine after Huang et al. (MobiSys
//! 2012). From RRC_IDLE a transfer first pays the promotion; while data
//! moves the radio draws `β + α_u·up + α_d·down` (throughputs in Mbit/s);
//! between transfers and for `tail_s` after the last one it stays connected
//! at the tail power; then it drops back to idle. Energy is what the radio
//! draws above RRC_IDLE.
//!
//! A *burst* is a run of requests each sent before the tail after the one
//! before it ran out. Its first request pays the promotion and the one
//! tail the burst ends with; every later request pays the connected time
//! by which it extends the burst. So a burst costs one promotion, one tail
//! and its connected time, however many requests it holds; a request
//! alone pays a whole tail.

use super::config::DeviceRadio;

/// One device's radio, as far as its finished requests tell.
#[derive(Debug, Clone, Copy, Default)]
pub struct RadioState {
    /// The end of the latest activity seen (the last answer's arrival);
    /// `None` before the first request.
    active_until_ns: Option<u64>,
}

/// What one request did on the device's radio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioUse {
    /// When it was sent.
    pub sent_ns: u64,
    /// When its answer arrived (or the device gave up), `>= sent_ns`.
    pub done_ns: u64,
    /// Time the radio spent moving its bytes (both ways).
    pub transfer_ns: u64,
    /// Bytes sent.
    pub up_bytes: u64,
    /// Bytes received.
    pub down_bytes: u64,
}

impl DeviceRadio {
    fn tail_ns(&self) -> u64 {
        (self.tail_s * 1e9).round() as u64
    }

    /// Joules of one promotion from idle.
    pub fn promotion_j(&self) -> f64 {
        self.promotion_mw * self.promotion_ms * 1e-6
    }

    /// Joules of one whole tail.
    pub fn tail_j(&self) -> f64 {
        self.tail_mw * 1e-3 * self.tail_s
    }

    /// Joules the radio draws for `request` given `state` (which it
    /// updates). Requests come in the order they finish.
    pub fn request_j(&self, state: &mut RadioState, request: &RadioUse) -> f64 {
        let done = request.done_ns.max(request.sent_ns);
        let tail_ns = self.tail_ns();
        let connected_w = self.tail_mw * 1e-3;
        let mut joules = 0.0;
        match state.active_until_ns {
            Some(until) if request.sent_ns <= until.saturating_add(tail_ns) => {
                // Within the burst: the connected time it adds at its end.
                joules += connected_w * done.saturating_sub(until) as f64 / 1e9;
            }
            _ => {
                // From idle: the promotion, the request's connected time
                // and the tail this burst will end with.
                joules += self.promotion_j();
                joules += connected_w * (done - request.sent_ns) as f64 / 1e9;
                joules += self.tail_j();
            }
        }
        state.active_until_ns = Some(state.active_until_ns.map_or(done, |u| u.max(done)));
        // Moving data draws β + α·throughput instead of the tail power: over
        // the transfer time that is (β − tail)·t plus α times the megabits.
        let transfer_s = request.transfer_ns as f64 / 1e9;
        joules += (self.transfer_base_mw - self.tail_mw) * 1e-3 * transfer_s;
        joules += self.uplink_mw_per_mbps * 1e-3 * request.up_bytes as f64 * 8e-6;
        joules += self.downlink_mw_per_mbps * 1e-3 * request.down_bytes as f64 * 8e-6;
        joules.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::EnergyConfig;

    fn radio() -> DeviceRadio {
        EnergyConfig::default().device
    }

    fn use_at(sent_s: f64) -> RadioUse {
        let sent_ns = (sent_s * 1e9) as u64;
        RadioUse {
            sent_ns,
            done_ns: sent_ns + 100_000_000,
            transfer_ns: 20_000_000,
            up_bytes: 10_000,
            down_bytes: 1_000,
        }
    }

    #[test]
    fn the_tail_appears_once_per_burst_not_once_per_request() {
        let r = radio();
        // Five requests a second apart (tail 11.576 s): one burst.
        let mut state = RadioState::default();
        let burst: Vec<f64> = (0..5)
            .map(|i| r.request_j(&mut state, &use_at(i as f64)))
            .collect();
        // Five requests a minute apart: five bursts.
        let mut state = RadioState::default();
        let apart: Vec<f64> = (0..5)
            .map(|i| r.request_j(&mut state, &use_at(60.0 * i as f64)))
            .collect();
        let whole = r.promotion_j() + r.tail_j();
        assert!(burst[0] > whole, "the first request opens the burst");
        for later in &burst[1..] {
            assert!(*later < r.tail_j() / 5.0, "no second tail: {later}");
        }
        for alone in &apart {
            assert!(*alone > whole, "each burst pays its own tail: {alone}");
        }
        let (b, a): (f64, f64) = (burst.iter().sum(), apart.iter().sum());
        // The burst's total is one promotion, one tail, its connected span
        // (4.1 s) and the transfers; apart, five of each.
        let transfers =
            5.0 * (r.request_j(&mut RadioState::default(), &use_at(0.0)) - whole - 0.1 * 1.06);
        let expected_burst = whole + 1.06 * 4.1 + transfers;
        assert!((b - expected_burst).abs() < 1e-9, "{b} vs {expected_burst}");
        let expected_apart = 5.0 * (whole + 1.06 * 0.1) + transfers;
        assert!((a - expected_apart).abs() < 1e-9, "{a} vs {expected_apart}");
    }

    #[test]
    fn a_request_after_the_tail_ran_out_opens_a_new_burst() {
        let r = radio();
        let mut state = RadioState::default();
        r.request_j(&mut state, &use_at(0.0));
        // 0.1 s + 11.576 s later the radio is idle again.
        let premium = r.request_j(&mut RadioState::default(), &use_at(0.0))
            - r.promotion_j()
            - r.tail_j()
            - 0.1 * 1.06;
        // Sent 11.5 s after the last answer: the radio is still connected,
        // the burst goes on to this answer (11.6 s more), no promotion.
        let just_within = r.request_j(&mut state.clone(), &use_at(11.6));
        assert!(
            (just_within - (1.06 * 11.6 + premium)).abs() < 1e-9,
            "{just_within}"
        );
        // Sent 11.6 s after it: idle again, a promotion and a new tail.
        let after = r.request_j(&mut state, &use_at(11.7));
        let whole = r.promotion_j() + 1.06 * 0.1 + r.tail_j() + premium;
        assert!((after - whole).abs() < 1e-9, "{after}");
    }

    #[test]
    fn requests_finishing_out_of_order_are_not_charged_twice() {
        let r = radio();
        let mut state = RadioState::default();
        let long = RadioUse {
            done_ns: 5_000_000_000,
            ..use_at(0.0)
        };
        r.request_j(&mut state, &use_at(1.0));
        // The earlier, longer request finishes after: only what it adds
        // beyond 1.1 s is connected time.
        let j = r.request_j(&mut state, &long);
        let premium = r.request_j(&mut RadioState::default(), &use_at(0.0))
            - r.promotion_j()
            - r.tail_j()
            - 0.1 * 1.06;
        assert!((j - (1.06 * 3.9 + premium)).abs() < 1e-9, "{j}");
    }
}
