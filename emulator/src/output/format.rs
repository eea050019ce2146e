//! The buffer CSV lines are built in, with fast, deterministic number
//! formatting.
//!
//! Millions of rows are written per run, so numbers are formatted by hand
//! from integers: no float printing, and the same bytes on every machine.
//! [`CsvLine`] writes digits three at a time from a table straight into its
//! buffer, with stores of fixed size (a number's bytes past its end are
//! overwritten by what follows), so a number costs a few dozen instructions
//! and no copy call.

/// `TRIPLES[n]` is `n` (below 1,000) in three digits, with leading zeros.
const TRIPLES: [[u8; 3]; 1000] = {
    let mut triples = [[0u8; 3]; 1000];
    let mut n = 0;
    while n < 1000 {
        triples[n] = [
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ];
        n += 1;
    }
    triples
};

/// `LEADING[n]` is `n` (below 1,000) without leading zeros, left-aligned in
/// three bytes (zero-padded after), and its digit count in the fourth.
const LEADING: [[u8; 4]; 1000] = {
    let mut leading = [[0u8; 4]; 1000];
    let mut n = 0;
    while n < 1000 {
        let digits = TRIPLES[n];
        let skip = (n < 100) as usize + (n < 10) as usize;
        let mut i = 0;
        while i + skip < 3 {
            leading[n][i] = digits[i + skip];
            i += 1;
        }
        leading[n][3] = (3 - skip) as u8;
        n += 1;
    }
    leading
};

/// Room one number may take: `u64::MAX` is 20 digits, its thousandths 17
/// digits, a point and three decimals; rounded up so that the fixed-size
/// stores of the last group stay inside.
const NUMBER_ROOM: usize = 24;

/// A line (or a batch of lines) of CSV being built: bytes, text and
/// numbers appended in turn, read back with [`as_bytes`](Self::as_bytes).
#[derive(Debug, Default, Clone)]
pub struct CsvLine {
    /// Written bytes, then zeroed room for the next ones.
    buf: Vec<u8>,
    /// How many bytes of `buf` are written.
    len: usize,
}

impl CsvLine {
    /// An empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets what was written, keeping the room.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The next `n` bytes of room (not yet counted as written).
    #[inline]
    fn room(&mut self, n: usize) -> &mut [u8] {
        let end = self.len + n;
        if self.buf.len() < end {
            self.grow(end);
        }
        &mut self.buf[self.len..end]
    }

    /// Makes the buffer at least `end` bytes long (doubling, to keep
    /// appends amortised constant).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, end: usize) {
        let grown = end.max(2 * self.buf.len()).max(256);
        self.buf.resize(grown, 0);
    }

    /// The next [`NUMBER_ROOM`] bytes of room.
    #[inline]
    fn number_room(&mut self) -> &mut [u8; NUMBER_ROOM] {
        self.room(NUMBER_ROOM)
            .try_into()
            .expect("room(n) is n bytes long")
    }

    /// Appends one byte.
    #[inline]
    pub fn push(&mut self, byte: u8) {
        self.room(1)[0] = byte;
        self.len += 1;
    }

    /// Appends bytes.
    #[inline]
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.room(bytes.len()).copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends text.
    #[inline]
    pub fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// Appends a duration given in nanoseconds as milliseconds with three
    /// decimals (microsecond resolution, rounded half up): 1_234_567 ns → `1.235`.
    #[inline]
    pub fn push_ms(&mut self, nanos: u64) {
        self.push_fixed3(nanos.saturating_add(500) / 1_000);
    }

    /// Appends a duration given in nanoseconds as seconds with three decimals.
    #[inline]
    pub fn push_s(&mut self, nanos: u64) {
        self.push_fixed3(nanos.saturating_add(500_000) / 1_000_000);
    }

    /// Appends `thousandths / 1000` with exactly three decimals.
    #[inline]
    fn push_fixed3(&mut self, thousandths: u64) {
        let room = self.number_room();
        // At most 17 digits: the point and the decimals fit after them.
        let whole = write_u64(room, thousandths / 1_000);
        room[whole] = b'.';
        room[whole + 1..whole + 4].copy_from_slice(&TRIPLES[(thousandths % 1_000) as usize]);
        self.len += whole + 4;
    }
}

/// Writes `value` at the start of `room` and returns how many bytes it
/// takes (at most 20; the bytes after them may be overwritten).
#[inline]
fn write_u64(room: &mut [u8; NUMBER_ROOM], mut value: u64) -> usize {
    // Groups of three digits, least significant first: six at most after
    // the leading one (u64::MAX has 20 digits).
    let mut groups = [0u16; 6];
    let mut count = 0;
    while value >= 1000 {
        groups[count] = (value % 1000) as u16;
        value /= 1000;
        count += 1;
    }
    let leading = LEADING[value as usize];
    room[..4].copy_from_slice(&leading);
    let mut at = usize::from(leading[3]);
    for &group in groups[..count].iter().rev() {
        room[at..at + 3].copy_from_slice(&TRIPLES[usize::from(group)]);
        at += 3;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(nanos: u64) -> String {
        let mut line = CsvLine::new();
        line.push_ms(nanos);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
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
        let mut line = CsvLine::new();
        line.push_s(3_600_000_400_000);
        assert_eq!(line.as_bytes(), b"3600.000");
        line.clear();
        line.push_ms(u64::MAX);
        assert_eq!(line.as_bytes(), b"18446744073709.551");
    }

    #[test]
    fn text_and_numbers_follow_each_other_across_growth() {
        let mut line = CsvLine::new();
        let mut expected = String::new();
        for i in 0..1_000u64 {
            line.push_str("cl-");
            line.push_s(i * 7_919_000_000);
            line.push(b',');
            line.push_ms(i * 1_234_567);
            line.push(b'\n');
            expected.push_str(&format!(
                "cl-{},{}\n",
                reference_fixed3(i * 7_919),
                reference_fixed3((i * 1_234_567 + 500) / 1_000)
            ));
        }
        assert_eq!(line.len(), expected.len());
        assert_eq!(
            String::from_utf8(line.as_bytes().to_vec()).unwrap(),
            expected
        );
        line.clear();
        assert!(line.is_empty());
        line.push_bytes(b"x");
        assert_eq!(line.as_bytes(), b"x");
    }

    /// What the table-driven formatting must equal: the standard library's.
    fn reference_fixed3(thousandths: u64) -> String {
        format!("{}.{:03}", thousandths / 1_000, thousandths % 1_000)
    }

    fn formatted(value: u64) -> (String, String) {
        let mut room = [0u8; NUMBER_ROOM];
        let digits = write_u64(&mut room, value);
        let integer = String::from_utf8(room[..digits].to_vec()).unwrap();
        let mut line = CsvLine::new();
        line.push_fixed3(value);
        let fixed = String::from_utf8(line.as_bytes().to_vec()).unwrap();
        (integer, fixed)
    }

    #[test]
    fn every_digit_count_and_group_boundary_matches_the_standard_formatting() {
        let mut values = vec![0, u64::MAX];
        for exponent in 0..20 {
            let power = 10u64.pow(exponent);
            values.extend([power - 1, power, power + 1]);
        }
        for value in values {
            assert_eq!(
                formatted(value),
                (value.to_string(), reference_fixed3(value)),
                "{value}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn integers_and_fixed_point_match_the_standard_formatting(
            value in proptest::prop_oneof![0u64..2_000_000, proptest::num::u64::ANY],
        ) {
            proptest::prop_assert_eq!(formatted(value), (value.to_string(), reference_fixed3(value)));
        }
    }
}
