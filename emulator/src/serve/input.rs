//! Checks on what callers send, before anything reaches the edge: every
//! refusal is `INVALID_ARGUMENT` naming the field and what would be right.
//!
//! Limits: a device id of at most [`MAX_DEVICE_ID_BYTES`] bytes; a request
//! payload of at most [`MAX_PAYLOAD_BYTES`], an answer of at most
//! [`MAX_RESPONSE_BYTES`] and a CPU cost of at most [`MAX_CPU_COST_US`] (the
//! cloudlet node's own limits); a whole message over [`MAX_MESSAGE_BYTES`]
//! is refused by tonic itself with `OUT_OF_RANGE`, whose message names the limit.

use mcc_cloudlet::migration::Technique;
use mcc_mobile_client::LatLon;
use mcc_proto::v1::{GeoPoint, Technique as WireTechnique};
use tonic::Status;

pub use mcc_cloudlet::node::{MAX_CPU_COST_US, MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES};

/// Longest device id, in bytes.
pub const MAX_DEVICE_ID_BYTES: usize = 128;

/// Largest message the service decodes: 4 MiB (room for the largest
/// payload and more; anything bigger is not a request this service takes).
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// A device id: non-empty, at most [`MAX_DEVICE_ID_BYTES`], no control characters.
pub fn device_id(id: &str) -> Result<&str, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument("device_id must not be empty"));
    }
    if id.len() > MAX_DEVICE_ID_BYTES {
        return Err(Status::invalid_argument(format!(
            "device_id is {} bytes; at most {MAX_DEVICE_ID_BYTES} are accepted",
            id.len()
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!(
            "device_id {id:?} holds a control character"
        )));
    }
    Ok(id)
}

/// A position from field `field`: present, finite, latitude in [-90, 90],
/// longitude in [-180, 180].
pub fn position(field: &str, point: Option<&GeoPoint>) -> Result<LatLon, Status> {
    let point = point.ok_or_else(|| Status::invalid_argument(format!("{field} is missing")))?;
    LatLon::new(point.latitude_deg, point.longitude_deg)
        .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// The sizes and cost of a device request are within the limits.
pub fn request_limits(
    payload_bytes: usize,
    response_bytes: u64,
    cpu_cost_us: u64,
) -> Result<(), Status> {
    if payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(Status::invalid_argument(format!(
            "payload is {payload_bytes} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes (1 MiB)"
        )));
    }
    if response_bytes > MAX_RESPONSE_BYTES {
        return Err(Status::invalid_argument(format!(
            "response_bytes {response_bytes} is over the limit of {MAX_RESPONSE_BYTES} bytes (1 MiB)"
        )));
    }
    if cpu_cost_us > MAX_CPU_COST_US {
        return Err(Status::invalid_argument(format!(
            "cpu_cost_us {cpu_cost_us} is over the limit of {MAX_CPU_COST_US} µs (60 s)"
        )));
    }
    Ok(())
}

/// A technique from the wire: `None` for `TECHNIQUE_UNSPECIFIED` (keep the
/// scenario's), an error naming the value for a number the enum does not have.
pub fn technique(code: i32) -> Result<Option<Technique>, Status> {
    match WireTechnique::try_from(code) {
        Ok(WireTechnique::Unspecified) => Ok(None),
        Ok(WireTechnique::StopAndCopy) => Ok(Some(Technique::StopAndCopy)),
        Ok(WireTechnique::PreCopy) => Ok(Some(Technique::PreCopy)),
        Ok(WireTechnique::PostCopy) => Ok(Some(Technique::PostCopy)),
        Ok(WireTechnique::Soft) => Ok(Some(Technique::Soft)),
        Ok(WireTechnique::Hybrid) => Ok(Some(Technique::Hybrid)),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown technique {code}; expected 1 (stop-and-copy), 2 (pre-copy), \
             3 (post-copy), 4 (soft), 5 (hybrid) or 0 to keep the scenario's"
        ))),
    }
}

/// The wire code of `technique`.
pub fn technique_code(technique: Technique) -> i32 {
    let wire = match technique {
        Technique::StopAndCopy => WireTechnique::StopAndCopy,
        Technique::PreCopy => WireTechnique::PreCopy,
        Technique::PostCopy => WireTechnique::PostCopy,
        Technique::Soft => WireTechnique::Soft,
        Technique::Hybrid => WireTechnique::Hybrid,
    };
    wire as i32
}

/// A speed from the wire: 0 means `default`; otherwise finite and > 0.
pub fn speed(speed: f64, default: f64) -> Result<f64, Status> {
    if speed == 0.0 {
        return Ok(default);
    }
    if speed.is_finite() && speed > 0.0 {
        Ok(speed)
    } else {
        Err(Status::invalid_argument(format!(
            "speed {speed} must be a number > 0 (or 0 for the serve's --speed)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_must_be_short_visible_text() {
        assert_eq!(device_id("phone-1").unwrap(), "phone-1");
        for bad in ["", "a\nb", &"x".repeat(MAX_DEVICE_ID_BYTES + 1)] {
            let status = device_id(bad).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().contains("device_id"), "{status:?}");
        }
    }

    #[test]
    fn positions_off_the_globe_or_missing_are_refused_naming_the_field() {
        let at = |lat, lon| GeoPoint {
            latitude_deg: lat,
            longitude_deg: lon,
        };
        assert!(position("position", Some(&at(53.3, -6.2))).is_ok());
        for (point, needle) in [
            (Some(at(f64::NAN, 0.0)), "latitude NaN"),
            (Some(at(123.0, 0.0)), "latitude 123"),
            (Some(at(0.0, 181.0)), "longitude 181"),
            (Some(at(0.0, f64::INFINITY)), "longitude inf"),
            (None, "position is missing"),
        ] {
            let status = position("position", point.as_ref()).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().contains(needle), "{status:?}");
        }
    }

    #[test]
    fn requests_over_a_limit_name_the_limit() {
        assert!(request_limits(MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES, MAX_CPU_COST_US).is_ok());
        let status = request_limits(MAX_PAYLOAD_BYTES + 1, 0, 0).unwrap_err();
        assert!(status.message().contains("1048576"), "{status:?}");
        assert!(request_limits(0, MAX_RESPONSE_BYTES + 1, 0).is_err());
        assert!(request_limits(0, 0, MAX_CPU_COST_US + 1).is_err());
    }

    #[test]
    fn techniques_and_speeds_from_the_wire() {
        assert_eq!(technique(0).unwrap(), None);
        for t in Technique::ALL {
            assert_eq!(technique(technique_code(t)).unwrap(), Some(t));
        }
        let status = technique(9).unwrap_err();
        assert!(
            status.message().contains("unknown technique 9"),
            "{status:?}"
        );
        assert_eq!(speed(0.0, 2.0).unwrap(), 2.0);
        assert_eq!(speed(5.0, 2.0).unwrap(), 5.0);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(speed(bad, 1.0).is_err());
        }
    }
}
