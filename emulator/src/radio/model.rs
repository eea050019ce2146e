//! The radio model over a world's sites: which cells interfere with which,
//! and each device's link from where it stands.
//!
//! A device's link is worked out at every mobility step against its cell
//! and each interferer, so the two costly parts are made cheap: distances
//! are taken on the local tangent plane (equirectangular, well under 0.1 %
//! off the great circle below 20 km) and path gains are read from a table
//! at 1 m steps, interpolated linearly (exact at the steps; the path loss
//! formula itself beyond the table).

use mcc_mobile_client::LatLon;

use super::budget::{Budget, LinkQuality};
use super::config::RadioConfig;
use super::efficiency::from_db;

/// Mean Earth radius, m (the same as the haversine distances elsewhere).
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// How far the gain table reaches, m.
const TABLE_M: usize = 20_000;

/// A site's position in radians.
#[derive(Debug, Clone, Copy)]
struct Site {
    lat: f64,
    lon: f64,
}

impl Site {
    fn of(p: LatLon) -> Self {
        Self {
            lat: p.lat_deg.to_radians(),
            lon: p.lon_deg.to_radians(),
        }
    }

    /// Distance to `p` on the local tangent plane, m; `cos_lat` is the
    /// cosine of `p`'s latitude.
    fn distance_m(&self, p: Site, cos_lat: f64) -> f64 {
        let dx = (p.lon - self.lon) * cos_lat;
        let dy = p.lat - self.lat;
        (dx * dx + dy * dy).sqrt() * EARTH_RADIUS_M
    }
}

/// The radio parameters and the sites they apply to.
#[derive(Debug, Clone)]
pub struct RadioModel {
    config: RadioConfig,
    budget: Budget,
    /// Path gain (linear) at 0, 1, …, [`TABLE_M`] m.
    gains: Vec<f64>,
    sites: Vec<Site>,
    /// The interfering sites of site `i`: `neighbours[i * k..(i + 1) * k]`
    /// (fewer at the end of a short list are `u32::MAX`).
    neighbours: Vec<u32>,
    per_site: usize,
}

impl RadioModel {
    /// The model over cell sites at `sites` (access point order): each
    /// site's interferers are the `config.interfering_cells` nearest other
    /// sites (ties by index, so the choice is deterministic).
    pub fn new(config: RadioConfig, sites: Vec<LatLon>) -> Self {
        let per_site = (config.interfering_cells as usize).min(sites.len().saturating_sub(1));
        let mut neighbours = Vec::with_capacity(sites.len() * per_site);
        let mut by_distance: Vec<(f64, u32)> = Vec::with_capacity(sites.len());
        for (i, &site) in sites.iter().enumerate() {
            by_distance.clear();
            by_distance.extend(
                sites
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, &other)| (site.distance_m(other), j as u32)),
            );
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            neighbours.extend(by_distance.iter().take(per_site).map(|&(_, j)| j));
        }
        let gains = (0..=TABLE_M)
            .map(|d| from_db(-config.path_loss.loss_db(d as f64)))
            .collect();
        Self {
            budget: config.budget(),
            config,
            gains,
            sites: sites.into_iter().map(Site::of).collect(),
            neighbours,
            per_site,
        }
    }

    /// The path gain (linear) at `d_m` metres.
    fn gain(&self, d_m: f64) -> f64 {
        let whole = d_m as usize;
        match (self.gains.get(whole), self.gains.get(whole + 1)) {
            (Some(&a), Some(&b)) => a + (b - a) * (d_m - whole as f64),
            _ => from_db(-self.config.path_loss.loss_db(d_m)),
        }
    }

    /// How many sites (cells) there are.
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    /// The parameters.
    pub fn config(&self) -> &RadioConfig {
        &self.config
    }

    /// The link of a device at `position` served by site `cell`; `None`
    /// when it cannot decode both ways there (or the cell does not exist).
    pub fn quality(&self, cell: u32, position: LatLon) -> Option<LinkQuality> {
        let site = *self.sites.get(cell as usize)?;
        let device = Site::of(position);
        let cos_lat = device.lat.cos();
        let interferers = self
            .interferers(cell)
            .iter()
            .filter_map(|&j| self.sites.get(j as usize))
            .map(|other| self.gain(other.distance_m(device, cos_lat)));
        self.config.quality_from_gains(
            &self.budget,
            self.gain(site.distance_m(device, cos_lat)),
            interferers,
        )
    }

    /// The interfering sites of `cell`, nearest first.
    pub fn interferers(&self, cell: u32) -> &[u32] {
        let start = cell as usize * self.per_site;
        self.neighbours
            .get(start..start + self.per_site)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).expect("position")
    }

    #[test]
    fn interferers_are_the_nearest_other_sites() {
        let mut config = RadioConfig::lte();
        config.interfering_cells = 2;
        let sites = vec![
            at(52.66, -8.63),
            at(52.66, -8.62),
            at(52.66, -8.60),
            at(52.66, -8.50),
        ];
        let model = RadioModel::new(config, sites);
        assert_eq!(model.interferers(0), &[1, 2]);
        assert_eq!(model.interferers(3), &[2, 1]);
        assert!(model.interferers(4).is_empty());
    }

    #[test]
    fn the_tables_and_the_plane_agree_with_the_formulas() {
        let config = RadioConfig::nr();
        let site = at(52.66, -8.63);
        let model = RadioModel::new(config.clone(), vec![site]);
        for metres in [5.0, 37.5, 250.2, 1_234.5, 4_000.0, 19_999.5, 30_000.0] {
            for bearing in [0.0, 45.0, 100.0, 270.0] {
                let device = site.destination(bearing, metres);
                let exact = config.quality(config.path_loss.loss_db(site.distance_m(device)), []);
                let fast = model.quality(0, device);
                match (exact, fast) {
                    (Some(e), Some(f)) => {
                        let off = (f.downlink.sinr / e.downlink.sinr - 1.0).abs();
                        assert!(off < 2e-3, "{metres} m at {bearing}°: {off}");
                    }
                    (e, f) => assert_eq!(e.is_some(), f.is_some(), "{metres} m"),
                }
            }
        }
    }

    #[test]
    fn a_neighbour_nearby_lowers_the_downlink() {
        let device = at(52.66, -8.625);
        let alone = RadioModel::new(RadioConfig::lte(), vec![at(52.66, -8.63)]);
        let crowded = RadioModel::new(
            RadioConfig::lte(),
            vec![at(52.66, -8.63), at(52.66, -8.615)],
        );
        let a = alone.quality(0, device).expect("covered").downlink;
        let b = crowded.quality(0, device).expect("covered").downlink;
        assert!(b.sinr < a.sinr / 10.0, "{} vs {}", b.sinr, a.sinr);
        assert!(b.rate_bps < a.rate_bps);
        assert!(alone.quality(1, device).is_none());
    }
}
