//! Fast, deterministic number formatting for the CSV writers.
//!
//! Millions of rows are written per run, so numbers are formatted by hand
//! from integers: no float printing, and the same bytes on every machine.

/// Appends an unsigned integer.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends a duration given in nanoseconds as milliseconds with three
/// decimals (microsecond resolution, rounded half up): 1_234_567 ns → `1.235`.
pub fn push_ms(out: &mut Vec<u8>, nanos: u64) {
    push_fixed3(out, (nanos + 500) / 1_000);
}

/// Appends a duration given in nanoseconds as seconds with three decimals.
pub fn push_s(out: &mut Vec<u8>, nanos: u64) {
    push_fixed3(out, (nanos + 500_000) / 1_000_000);
}

/// Appends `thousandths / 1000` with exactly three decimals.
fn push_fixed3(out: &mut Vec<u8>, thousandths: u64) {
    push_u64(out, thousandths / 1_000);
    let frac = thousandths % 1_000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(nanos: u64) -> String {
        let mut out = Vec::new();
        push_ms(&mut out, nanos);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_milliseconds_with_three_decimals() {
        assert_eq!(ms(0), "0.000");
        assert_eq!(ms(1_234_567), "1.235");
        assert_eq!(ms(1_234_499), "1.234");
        assert_eq!(ms(5_000_000_000), "5000.000");
        assert_eq!(ms(999), "0.001");
    }

    #[test]
    fn formats_integers_and_seconds() {
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
        out.clear();
        push_s(&mut out, 3_600_000_400_000);
        assert_eq!(out, b"3600.000");
    }
}
