//! Rendering command results as text tables or JSON on stdout.
//! Only formatting lives here: aligned tables, key/value blocks, human sizes, short times.

use std::io::{self, Write};

use serde::Serialize;

/// Column alignment in a `Table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A plain text table: a header row and data rows, columns separated by two spaces, no
/// trailing whitespace.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as (header, alignment).
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Add one row; missing cells are empty, extra cells are dropped.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let width = |i: usize| {
            std::iter::once(&self.headers[i])
                .chain(self.rows.iter().map(|r| &r[i]))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i] - cell.chars().count();
                match self.align[i] {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned; `None` values are left out.
pub fn details(pairs: &[(&str, Option<String>)]) -> String {
    let width = pairs
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        if let Some(value) = value {
            let pad = width - key.chars().count();
            out.push_str(&format!("{key}:{} {value}\n", " ".repeat(pad)));
        }
    }
    out
}

/// Bytes in binary units with one decimal, as Proxmox shows disk sizes: `512B`, `4.0M`, `32.0G`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // 1023.96K would print as "1024.0K"; move to the next unit instead.
    if format!("{value:.1}") == "1024.0" && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// `human_size`, or `-` when unknown.
pub fn opt_size(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_string(), human_size)
}

/// An ISO-8601 time as ONTAP or this tool reports it, shortened for a table:
/// `2024-03-13T15:42:47.123+01:00` → `2024-03-13 15:42:47+01:00`, `...Z` → `... UTC`.
/// Anything that is not such a time is returned unchanged.
pub fn short_time(iso: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let Ok(t) = time::OffsetDateTime::parse(iso, &Rfc3339) else {
        return iso.to_string();
    };
    let day_time = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let Ok(base) = t.format(day_time) else {
        return iso.to_string();
    };
    let offset = t.offset();
    if offset.is_utc() {
        format!("{base} UTC")
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!("{base}{sign}{:02}:{:02}", h.abs(), m.abs())
    }
}

/// A value as one pretty JSON document followed by a newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_have_no_trailing_spaces() {
        let mut t = Table::new(&[
            ("NAME", Align::Left),
            ("SIZE", Align::Right),
            ("LABEL", Align::Left),
        ]);
        t.row(["proxmox_snapshot_a", "32.0G", ""]);
        t.row(vec![
            "b".to_string(),
            "512B".to_string(),
            "daily".to_string(),
        ]);
        t.row(["c"]);
        assert_eq!(
            t.render(),
            "NAME                 SIZE  LABEL\n\
             proxmox_snapshot_a  32.0G\n\
             b                    512B  daily\n\
             c\n"
        );
        assert!(!t.is_empty());
    }

    #[test]
    fn details_align_values_and_skip_unknown_ones() {
        assert_eq!(
            details(&[
                ("storage", Some("ONTAP01".into())),
                ("junction path", None),
                ("volume", Some("svm1:ONTAP01".into())),
            ]),
            "storage: ONTAP01\nvolume:  svm1:ONTAP01\n"
        );
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(528 * 1024), "528.0K");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0M");
        assert_eq!(human_size(32 << 30), "32.0G");
        assert_eq!(human_size((1 << 40) + (1 << 39)), "1.5T");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0M");
        assert_eq!(opt_size(None), "-");
    }

    #[test]
    fn times_are_shortened() {
        assert_eq!(
            short_time("2024-03-13T14:42:47Z"),
            "2024-03-13 14:42:47 UTC"
        );
        assert_eq!(
            short_time("2024-03-13T14:42:47+00:00"),
            "2024-03-13 14:42:47 UTC"
        );
        assert_eq!(
            short_time("2024-03-13T15:42:47.250+01:00"),
            "2024-03-13 15:42:47+01:00"
        );
        assert_eq!(
            short_time("2024-03-13T09:12:47-05:30"),
            "2024-03-13 09:12:47-05:30"
        );
        assert_eq!(short_time("yesterday"), "yesterday");
    }

    #[test]
    fn json_is_one_pretty_document() {
        let mut out = Vec::new();
        write_json(&mut out, &serde_json::json!({"a": [1]})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": [\n    1\n  ]\n}\n"
        );
    }
}
