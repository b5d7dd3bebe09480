//! Simulated wall clock of the ONTAP cluster and ONTAP's timestamp format (ISO-8601 with the
//! cluster's UTC offset, e.g. `2024-03-13T14:42:47+00:00`).

use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Wall time that advances with the real clock from a configurable origin.
#[derive(Debug, Clone)]
pub struct Clock {
    origin: Instant,
    origin_time: OffsetDateTime,
    offset: UtcOffset,
}

impl Clock {
    /// `start`: the simulated time at creation (None: the real time); `offset`: the cluster's UTC
    /// offset used when formatting timestamps.
    pub fn new(start: Option<OffsetDateTime>, offset: UtcOffset) -> Clock {
        Clock {
            origin: Instant::now(),
            origin_time: start.unwrap_or_else(OffsetDateTime::now_utc),
            offset,
        }
    }

    /// The simulated time now.
    pub fn now(&self) -> OffsetDateTime {
        self.at(Instant::now())
    }

    /// The simulated time at a monotonic instant.
    pub fn at(&self, instant: Instant) -> OffsetDateTime {
        match instant.checked_duration_since(self.origin) {
            Some(d) => self.origin_time + d,
            None => self.origin_time - self.origin.duration_since(instant),
        }
    }

    /// ONTAP's rendering of a timestamp: RFC 3339 in the cluster's offset, whole seconds.
    pub fn format(&self, t: OffsetDateTime) -> String {
        format_time(t, self.offset)
    }
}

/// RFC 3339 with whole seconds in the given offset (`+00:00`, never `Z`, as ONTAP writes it).
pub fn format_time(t: OffsetDateTime, offset: UtcOffset) -> String {
    let t = t.to_offset(offset).replace_nanosecond(0).unwrap_or(t);
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        sign,
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// Parse an ISO-8601/RFC 3339 timestamp (`2024-03-13T14:42:47Z`, `...+02:00`, fractions allowed).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// Parse a UTC offset written `+HH:MM`, `-HH:MM` or `Z`.
pub fn parse_offset(s: &str) -> Option<UtcOffset> {
    let s = s.trim();
    if s == "Z" || s.is_empty() {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i8 = h.parse().ok()?;
    let m: i8 = m.parse().ok()?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// A duration in milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_offset() {
        let t = parse_time("2024-03-13T14:42:47Z").unwrap();
        assert_eq!(format_time(t, UtcOffset::UTC), "2024-03-13T14:42:47+00:00");
        let off = parse_offset("-04:00").unwrap();
        assert_eq!(format_time(t, off), "2024-03-13T10:42:47-04:00");
        assert_eq!(parse_offset("+05:30").unwrap().as_hms(), (5, 30, 0));
        assert!(parse_offset("0530").is_none());
    }
}
