//! "Did you mean": the closest known name to a misspelt one.

/// The known name closest to `input`, if one is close enough to be a likely
/// intent: one is a prefix of the other (`lowercase` → `lower`), or they are
/// a small edit apart (`uper` → `upper`). Case is ignored.
pub fn closest<'a>(input: &str, known: &[&'a str]) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    if input.is_empty() {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(&input, k), *k))
        .filter(|(d, k)| {
            *d <= 2.max(k.len() / 3) || input.starts_with(k) || k.starts_with(input.as_str())
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A " (did you mean \"x\"?)" suffix, or nothing.
pub fn hint(input: &str, known: &[&str]) -> String {
    closest(input, known)
        .map(|k| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["trim", "lower", "upper"];
        let cases = [
            ("lowercase", Some("lower")),
            ("LOWER", Some("lower")),
            ("uper", Some("upper")),
            ("trmi", Some("trim")),
            ("capitalize", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(closest(input, &known), want, "{input}");
        }
        assert_eq!(closest("bool", &["boolean", "integer"]), Some("boolean"));
        assert_eq!(
            closest("datetime", &["date", "date-time"]),
            Some("date-time")
        );
        assert_eq!(hint("int", &["integer"]), " (did you mean \"integer\"?)");
    }
}
