//! Destination types and the conversion of a Salesforce text value to them.
//!
//! Salesforce sends every value as text: booleans `true`/`false`, numbers
//! like `12` or `1200.5`, dates `YYYY-MM-DD`, date-times ISO 8601 in UTC,
//! multi-select picklists as `a;b;c`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Number, Value};

/// The JSON type a destination field gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    #[default]
    String,
    /// From `true` / `false` (any case).
    Boolean,
    /// From a whole number (`12`, `12.0`).
    Integer,
    /// From a decimal number, as a JSON number.
    Decimal,
    /// `YYYY-MM-DD` (a date-time keeps its date part).
    Date,
    /// ISO 8601, normalised to UTC `YYYY-MM-DDTHH:MM:SSZ`.
    DateTime,
    /// `;`-separated values (multi-select picklists) as a JSON array.
    List,
}

impl ValueType {
    pub const NAMES: &'static [(&'static str, ValueType)] = &[
        ("string", ValueType::String),
        ("boolean", ValueType::Boolean),
        ("integer", ValueType::Integer),
        ("decimal", ValueType::Decimal),
        ("date", ValueType::Date),
        ("date-time", ValueType::DateTime),
        ("list", ValueType::List),
    ];

    pub fn parse(name: &str) -> Option<ValueType> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("string")
    }

    /// Whether a template's literal text can be part of a value of this
    /// type. A template always yields text, so only string and list accept
    /// surrounding text.
    pub fn accepts_template_text(self) -> bool {
        matches!(self, ValueType::String | ValueType::List)
    }

    /// Convert one text value. The error says what was expected.
    pub fn convert(self, text: &str) -> Result<Value, String> {
        let t = text.trim();
        match self {
            ValueType::String => Ok(Value::String(text.to_string())),
            ValueType::Boolean => match t.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("\"{text}\" is not a boolean (true or false)")),
            },
            ValueType::Integer => {
                if let Ok(i) = t.parse::<i64>() {
                    return Ok(Value::Number(i.into()));
                }
                match t.split_once('.') {
                    Some((whole, frac)) if frac.chars().all(|c| c == '0') && !frac.is_empty() => {
                        whole
                            .parse::<i64>()
                            .map(|i| Value::Number(i.into()))
                            .map_err(|_| format!("\"{text}\" is not a whole number"))
                    }
                    _ => Err(format!("\"{text}\" is not a whole number")),
                }
            }
            ValueType::Decimal => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("\"{text}\" is not a decimal number")),
            ValueType::Date => {
                let date_part = t.get(..10).unwrap_or(t);
                let rest_ok = t.len() == 10 || t.as_bytes().get(10) == Some(&b'T');
                NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
                    .ok()
                    .filter(|_| rest_ok)
                    .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                    .ok_or_else(|| format!("\"{text}\" is not a date (YYYY-MM-DD)"))
            }
            ValueType::DateTime => DateTime::parse_from_rfc3339(t)
                .map(|d| {
                    Value::String(
                        d.with_timezone(&Utc)
                            .to_rfc3339_opts(SecondsFormat::Secs, true),
                    )
                })
                .map_err(|_| format!("\"{text}\" is not an ISO 8601 date-time")),
            ValueType::List => Ok(Value::Array(
                text.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversions() {
        use ValueType::*;
        let ok = [
            (String, " Ana ", json!(" Ana ")),
            (Boolean, "true", json!(true)),
            (Boolean, "FALSE", json!(false)),
            (Integer, "42", json!(42)),
            (Integer, "-7", json!(-7)),
            (Integer, "12.0", json!(12)),
            (Decimal, "1200.5", json!(1200.5)),
            (Decimal, "3", json!(3.0)),
            (Date, "2026-11-20", json!("2026-11-20")),
            (Date, "2026-11-20T10:15:00.000Z", json!("2026-11-20")),
            (
                DateTime,
                "2026-11-20T10:15:00.000Z",
                json!("2026-11-20T10:15:00Z"),
            ),
            (
                DateTime,
                "2026-11-20T12:15:00+02:00",
                json!("2026-11-20T10:15:00Z"),
            ),
            (List, "Red;Green; Blue;", json!(["Red", "Green", "Blue"])),
            (List, "", json!([])),
        ];
        for (t, input, want) in ok {
            assert_eq!(t.convert(input), Ok(want), "{} of {input:?}", t.name());
        }
        let bad = [
            (Boolean, "yes"),
            (Boolean, "1"),
            (Integer, "12.5"),
            (Integer, "twelve"),
            (Decimal, "1,5"),
            (Decimal, "NaN"),
            (Date, "20/11/2026"),
            (Date, "2026-13-01"),
            (Date, "2026-11-20x"),
            (DateTime, "2026-11-20"),
        ];
        for (t, input) in bad {
            let err = t.convert(input).expect_err(input);
            assert!(err.contains(input), "{err}");
        }
    }

    #[test]
    fn type_names_are_the_documented_ones() {
        // The names a mapping file writes (README "Field mapping"), spelled
        // out here rather than read back from the table under test.
        let documented = [
            ("string", ValueType::String),
            ("boolean", ValueType::Boolean),
            ("integer", ValueType::Integer),
            ("decimal", ValueType::Decimal),
            ("date", ValueType::Date),
            ("date-time", ValueType::DateTime),
            ("list", ValueType::List),
        ];
        for (name, t) in documented {
            assert_eq!(ValueType::parse(name), Some(t), "{name}");
            assert_eq!(t.name(), name);
        }
        for unknown in ["bool", "String", "datetime", "int", ""] {
            assert_eq!(ValueType::parse(unknown), None, "{unknown}");
        }
    }
}
