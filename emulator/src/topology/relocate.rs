//! Moving a site set to another city while keeping its shape.
//!
//! The shipped sites are in Melbourne and the shipped backbones in Ireland
//! and Europe. [`SiteSet::relocated`] expresses every site as metres east and
//! north of the set's centroid (a local equirectangular projection, accurate
//! to well under 1 % over a city), then lays the same offsets out around a
//! new centroid. Distances between sites are kept; compass bearings too.
//! The centroid is the mean latitude and mean longitude (sets that straddle
//! the ±180° meridian are not supported).

use mcc_mobile_client::position::LatLon;

use super::sites::SiteSet;

/// Mean Earth radius in metres (the one haversine distances use).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

impl SiteSet {
    /// The mean position of the sites (`None` for an empty set).
    pub fn centroid(&self) -> Option<LatLon> {
        let n = self.sites.len() as f64;
        if self.sites.is_empty() {
            return None;
        }
        let lat = self.sites.iter().map(|s| s.position.lat_deg).sum::<f64>() / n;
        let lon = self.sites.iter().map(|s| s.position.lon_deg).sum::<f64>() / n;
        LatLon::new(lat, lon).ok()
    }

    /// The same sites shifted so that their centroid lands on `centroid_to`,
    /// each keeping its offset in metres east and north of the centroid.
    /// Fails (naming the site) if a shifted site would fall off the globe.
    pub fn relocated(&self, centroid_to: LatLon) -> Result<SiteSet, String> {
        let Some(from) = self.centroid() else {
            return Ok(self.clone());
        };
        let cos_from = from.lat_deg.to_radians().cos();
        let cos_to = centroid_to.lat_deg.to_radians().cos();
        let mut out = self.clone();
        for site in &mut out.sites {
            let p = site.position;
            let north_m = (p.lat_deg - from.lat_deg).to_radians() * EARTH_RADIUS_M;
            let east_m = (p.lon_deg - from.lon_deg).to_radians() * EARTH_RADIUS_M * cos_from;
            let lat = centroid_to.lat_deg + (north_m / EARTH_RADIUS_M).to_degrees();
            let lon = centroid_to.lon_deg + (east_m / (EARTH_RADIUS_M * cos_to)).to_degrees();
            site.position = LatLon::new(lat, lon)
                .map_err(|e| format!("relocated site {} would be off the globe: {e}", site.id))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::topology::sites::load_sites;

    #[test]
    fn relocation_keeps_distances_and_moves_the_centroid() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies/sites/site-optus-melbCBD.csv");
        let melbourne = load_sites(&file).unwrap();
        let limerick = LatLon::new(52.66472, -8.62306).unwrap();
        let moved = melbourne.relocated(limerick).unwrap();
        let c = moved.centroid().unwrap();
        assert!(c.distance_m(limerick) < 0.01, "{c:?}");
        let before = &melbourne.sites;
        let after = &moved.sites;
        for i in [0usize, 17, 60, 124] {
            for j in [3usize, 42, 99] {
                let d0 = before[i].position.distance_m(before[j].position);
                let d1 = after[i].position.distance_m(after[j].position);
                assert!((d0 - d1).abs() < 1.0 + d0 * 1e-3, "{i}-{j}: {d0} vs {d1}");
            }
        }
        assert!(after[0].position.distance_m(limerick) < 5_000.0);
        let pole = LatLon::new(90.0, 0.0).unwrap();
        assert!(
            melbourne
                .relocated(pole)
                .unwrap_err()
                .contains("off the globe")
        );
    }
}
