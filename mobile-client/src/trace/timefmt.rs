//! Times as trace files write them, to unix seconds.

use chrono::NaiveDate;

/// How a CSV column writes its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// A calendar date and time, `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS`,
    /// optional fraction of a second, then optionally `Z` or an offset `+HH`,
    /// `+HHMM` or `+HH:MM` (no offset = UTC). This covers RFC 3339 and the
    /// PostGIS/GeoLife style `2008-12-11 04:42:14+00`.
    DateTime,
    /// Seconds since 1970-01-01 UTC, possibly fractional.
    UnixSeconds,
    /// Microseconds since 1970-01-01 UTC, an integer (the Dublin Bus SIRI
    /// feed's `timestamp`).
    UnixMicros,
    /// `DateTime` if the value parses as one, else `UnixSeconds`.
    #[default]
    Auto,
}

impl TimeFormat {
    /// Words for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            TimeFormat::DateTime => {
                "a date-time like 2019-02-18T07:45:50Z or 2008-12-11 04:42:14+00"
            }
            TimeFormat::UnixSeconds => "unix seconds",
            TimeFormat::UnixMicros => "unix microseconds (an integer)",
            TimeFormat::Auto => {
                "a date-time (2019-02-18T07:45:50Z, 2008-12-11 04:42:14+00) or unix seconds"
            }
        }
    }

    /// The time `s` stands for, in unix seconds.
    pub fn parse(self, s: &str) -> Option<f64> {
        let s = s.trim();
        match self {
            TimeFormat::DateTime => parse_datetime(s),
            TimeFormat::UnixSeconds => s.parse::<f64>().ok().filter(|v| v.is_finite()),
            TimeFormat::UnixMicros => s.parse::<i64>().ok().map(|us| us as f64 / 1e6),
            TimeFormat::Auto => parse_datetime(s).or_else(|| TimeFormat::UnixSeconds.parse(s)),
        }
    }
}

/// Unix seconds of a calendar date-time (see [`TimeFormat::DateTime`]).
///
/// Hand-parsed at fixed positions (trace files hold millions of these;
/// chrono's format-string parser was the readers' main cost), then checked
/// by chrono's calendar.
pub fn parse_datetime(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    let time = date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    let mut rest = s.get(19..)?;
    let mut fraction_s = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction_s = format!("0.{}", after_dot.get(..digits)?)
            .parse::<f64>()
            .ok()?;
        rest = after_dot.get(digits..)?;
    }
    let offset_s = parse_offset_s(rest)?;
    Some((time.and_utc().timestamp() - i64::from(offset_s)) as f64 + fraction_s)
}

/// Seconds east of UTC for `""`, `Z`, `±HH`, `±HHMM`, `±HH:MM`.
fn parse_offset_s(rest: &str) -> Option<i32> {
    if rest.is_empty() || rest == "Z" || rest == "z" {
        return Some(0);
    }
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = rest.get(1..)?.chars().filter(|&c| c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i32>().ok()?,
            digits.get(2..)?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_styles_trace_files_use() {
        let t = 1_550_475_950.0; // 2019-02-18T07:45:50Z
        assert_eq!(parse_datetime("2019-02-18T07:45:50Z"), Some(t));
        assert_eq!(parse_datetime("2019-02-18T08:45:50+01:00"), Some(t));
        assert_eq!(parse_datetime("2019-02-18 07:45:50+00"), Some(t));
        assert_eq!(parse_datetime("2019-02-18 07:45:50"), Some(t));
        assert_eq!(parse_datetime("2019-02-18T07:45:50.5Z"), Some(t + 0.5));
        assert_eq!(parse_datetime("2019-02-18T07:45:50+0130"), Some(t - 5400.0));
        assert_eq!(parse_datetime("2019-02-30T07:45:50Z"), None);
        assert_eq!(parse_datetime("07:45:50"), None);
        assert_eq!(parse_datetime("2019-02-18T07:45:50 UTC"), None);
        assert_eq!(TimeFormat::Auto.parse("1550475950"), Some(t));
        assert_eq!(TimeFormat::DateTime.parse("1550475950"), None);
        assert_eq!(
            TimeFormat::UnixMicros.parse("1550475950500000"),
            Some(t + 0.5)
        );
        assert_eq!(TimeFormat::UnixMicros.parse("1550475950.5"), None);
    }
}
