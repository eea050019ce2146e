//! Reading a Prometheus page (`--metrics-listen`): where the process said
//! it serves, and the samples in the text.

use std::net::SocketAddr;

/// The metrics address in `stderr`, on the line `printed` +
/// `http://ADDR/metrics` (`mcc-emu serve: metrics on `, `mcc-emu: metrics
/// on `), once that line is whole.
pub fn metrics_address(stderr: &str, printed: &str) -> Option<SocketAddr> {
    let rest = stderr.split(printed).nth(1)?;
    let (line, _) = rest.split_once('\n')?;
    line.strip_prefix("http://")?
        .strip_suffix("/metrics")?
        .parse()
        .ok()
}

/// The value of the sample `name` (with its labels, as rendered), if any.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The sum of every sample of `family` whatever its labels.
pub fn family_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
